"""Texts of `python -m benchmarks`: the Markdown it prints for README.md and performance.md."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- benchmark (python -m benchmarks: the Markdown for README.md and performance.md) --
    "bench_col_size": {"ru": "размер", "en": "size"},
    "bench_col_run": {"ru": "запуск", "en": "run"},
    "bench_col_rows": {"ru": "строк прочитано", "en": "rows read"},
    "bench_col_wall": {"ru": "время, с", "en": "wall, s"},
    "bench_col_cpu": {"ru": "CPU клиента, с", "en": "client CPU, s"},
    "bench_col_cpu_row": {"ru": "мкс CPU на строку", "en": "µs CPU per row"},
    "bench_col_requests": {"ru": "HTTP-запросов", "en": "HTTP requests"},
    "bench_col_first": {"ru": "до 1-го запроса, с", "en": "to 1st request, s"},
    "bench_col_rss": {"ru": "пик памяти, МБ", "en": "peak RSS, MB"},
    "bench_col_written": {"ru": "строк записано", "en": "rows written"},
    "bench_col_check": {"ru": "проверка", "en": "check"},
    "bench_col_target": {"ru": "цель", "en": "target"},
    "bench_col_figures": {"ru": "замер", "en": "figures"},
    "bench_col_verdict": {"ru": "итог", "en": "verdict"},
    "bench_full": {"ru": "полная синхронизация", "en": "full sync"},
    "bench_noop": {"ru": "повторная без изменений", "en": "no-op re-sync"},
    "bench_changed": {"ru": "повторная: 1 % изменено, 10 добавлено, 10 удалено",
                      "en": "re-sync: 1% changed, 10 added, 10 removed"},
    "bench_reread": {"ru": "полное перечитывание `--full`", "en": "`--full` re-read"},
    "bench_peer_fast": {"ru": "fast_bitrix24 `get_all`, только чтение",
                        "en": "fast_bitrix24 `get_all`, read only"},
    "bench_peer_sdk": {"ru": "b24pysdk `as_list_fast`, только чтение",
                       "en": "b24pysdk `as_list_fast`, read only"},
    "bench_naive": {"ru": "наивный вариант: полная синхронизация",
                    "en": "naive reference: full sync"},
    "bench_help_note": {"ru": "медиана, запусков: {count}; {low}–{high} с",
                        "en": "median of {count} starts, {low}–{high} s"},
    "bench_not_installed": {"ru": "не установлен (pip install -r requirements-bench.txt)",
                            "en": "not installed (pip install -r requirements-bench.txt)"},
    "bench_failed": {"ru": "не удалось: {error}", "en": "failed: {error}"},
    "bench_db_equal": {"ru": "база = портал", "en": "DB = portal"},
    "bench_db_differs": {"ru": "расходятся строк: {rows}", "en": "{rows} rows differ"},
    "bench_nothing_to_fix": {"ru": "исправлять нечего", "en": "nothing to fix"},
    "bench_fixed": {"ru": "исправлено строк: {rows}", "en": "{rows} rows fixed"},
    "bench_limited": {"ru": "{count} × 503", "en": "{count} × 503"},
    "bench_heading": {
        "ru": "**Замер {date}.** Машина: {cores} ядра ({cpu}), {memory} памяти, {os}; "
              "Python {python}; {database} на этой же машине; аналоги: {peers}.",
        "en": "**Sitting of {date}.** Machine: {cores} cores ({cpu}), {memory} of memory, {os}; "
              "Python {python}; {database} on the same machine; peers: {peers}.",
    },
    "bench_portal": {
        "ru": "Фальшивый портал (`app/testing/`) по HTTPS на loopback: задержка {latency} мс "
              "на запрос, {row_cost} мс на каждую отданную строку, {rate} запроса/с, всплеск "
              "{burst}. Каждый запуск — отдельный процесс; ведро портала перед ним пустое.",
        "en": "Fake portal (`app/testing/`) over HTTPS on loopback: {latency} ms latency per "
              "request, {row_cost} ms per row served, {rate} requests/s, burst {burst}. Each "
              "run is a process of its own; the portal's bucket is empty before it.",
    },
    "bench_command": {"ru": "Команда: `{command}` (замер занял {minutes} мин {seconds} с).",
                      "en": "Command: `{command}` (the sitting took {minutes} min {seconds} s)."},
    "bench_cpu_note": {
        "ru": "Время и память — всего процесса `python cli.py` от запуска интерпретатора до "
              "выхода (CPU — user + sys); «мкс CPU на строку» — CPU, делённое на число строк "
              "портала; «до 1-го запроса» — от запуска процесса до прихода первого запроса "
              "на портал. `app/` заранее скомпилирован в байт-код, как у пользователя после "
              "первого запуска.",
        "en": "Wall, CPU (user + sys) and memory are the whole `python cli.py` process, from "
              "interpreter start to exit; «µs CPU per row» is that CPU over the portal's rows; "
              "«to 1st request» runs from process start to the portal receiving the first "
              "request. `app/` is compiled to bytecode beforehand, as on a user's machine after "
              "the first run.",
    },
    "bench_met": {"ru": "выполнена", "en": "met"},
    "bench_not_met": {"ru": "**не выполнена**", "en": "**not met**"},
    "bench_not_measured": {"ru": "не измерено", "en": "not measured"},
    "bench_missing": {"ru": "нет замера на {size} (`--sizes`)",
                      "en": "no run at {size} (`--sizes`)"},
    "bench_no_answer": {"ru": "не закончил за {seconds} с, остановлен",
                        "en": "no answer in {seconds} s, stopped"},
    "bench_peer_failed": {"ru": "наша {ours} с; аналог на {size} не дочитал (см. таблицу)",
                          "en": "ours {ours} s; the peer did not finish at {size} (see the table)"},
    "bench_vs_stopped": {"ru": "наша {ours} с; аналог не закончил за {seconds} с (запросов: "
                               "{requests}) и был остановлен, так что отношение меньше "
                               "{ours} / {seconds} = {bound}",
                         "en": "ours {ours} s; the peer did not finish in {seconds} s ({requests} "
                               "requests) and was stopped, so the ratio is below "
                               "{ours} / {seconds} = {bound}"},
    "bench_met_bound": {"ru": "выполнена (по оценке сверху)", "en": "met (by the upper bound)"},
    "bench_vs": {"ru": "{ours} с против {theirs} с = {ratio}",
                 "en": "{ours} s vs {theirs} s = {ratio}"},
    "bench_peer_limited": {"ru": "; аналог получил {count} × 503 и ждал — сравнение нечестное",
                           "en": "; the peer got {count} × 503 and waited: no fair comparison"},
    "bench_cpu_figures": {"ru": "{cpu} с / {rows} строк = {per_row} мкс",
                          "en": "{cpu} s / {rows} rows = {per_row} µs"},
    "bench_cpu_marginal": {"ru": " (каждая строка сверх 58k до 208k: {per_row} мкс)",
                           "en": " (each row beyond 58k up to 208k: {per_row} µs)"},
    "bench_rss_smaller": {"ru": "только {rows} строк в этом замере: {figures} МБ",
                          "en": "only {rows} rows in this sitting: {figures} MB"},
    "bench_first_figures": {"ru": "медиана {median} с, худший {worst} с (запусков: {count})",
                            "en": "median {median} s, worst {worst} s ({count} runs)"},
    "bench_correct_figures": {
        "ru": "запусков: {count}; база = портал после каждого; `--full` не нашёл, что исправить",
        "en": "{count} runs: DB = portal after each; `--full` found nothing to fix"},
    "bench_correct_bad": {"ru": "не сошлось: {runs}", "en": "wrong after: {runs}"},
    "bench_t_58k_wall": {"ru": "58k, полная синхронизация ≤ 0,35 × чтения fast_bitrix24",
                         "en": "58k full sync ≤ 0.35 × fast_bitrix24's read"},
    "bench_t_cpu": {"ru": "58k, CPU клиента ≤ 15 мкс на строку",
                    "en": "58k, client CPU ≤ 15 µs per row"},
    "bench_t_requests": {"ru": "208k, HTTP-запросов ≤ 1,1 × ⌈строк / 2 500⌉ + 5 = {limit}",
                         "en": "208k, HTTP requests ≤ 1.1 × ⌈rows / 2,500⌉ + 5 = {limit}"},
    "bench_t_208k_wall": {"ru": "208k, время ≤ 0,35 × чтения fast_bitrix24",
                          "en": "208k, wall ≤ 0.35 × fast_bitrix24's read"},
    "bench_t_208k_sdk": {"ru": "208k, быстрее чтения b24pysdk `as_list_fast`",
                         "en": "208k, faster than b24pysdk `as_list_fast`'s read"},
    "bench_t_noop_requests": {"ru": "повторная без изменений: 1–2 HTTP-запроса",
                              "en": "no-op re-sync: 1–2 HTTP requests"},
    "bench_t_noop_cpu": {"ru": "повторная без изменений: CPU на 208k ≤ 1,3 × CPU на 20k",
                         "en": "no-op re-sync: CPU at 208k ≤ 1.3 × CPU at 20k"},
    "bench_t_rss": {"ru": "1 000 000 строк одного справочника: пик памяти ≤ 400 МБ",
                    "en": "1,000,000 rows of one directory: peak RSS ≤ 400 MB"},
    "bench_t_help": {"ru": "`python cli.py --help` ≤ 0,3 с",
                     "en": "`python cli.py --help` ≤ 0.3 s"},
    "bench_t_first": {"ru": "первый запрос синхронизации ≤ 0,4 с от запуска",
                      "en": "a sync's first request ≤ 0.4 s from start"},
    "bench_t_correct": {"ru": "верность: база = портал, `--full` исправлять нечего",
                        "en": "correct: DB = portal, `--full` finds nothing to fix"},
    "bench_portal_check": {
        "ru": "Сам фальшивый портал: засеять {objects} объектов — {seed} с (нужно < 2 с), "
              "страница с фильтром у их конца — {page} с (нужно < 0,5 с).",
        "en": "The fake portal alone: seeding {objects} objects took {seed} s (target < 2 s), "
              "a filtered page near their end {page} s (target < 0.5 s).",
    },
    "bench_one_label": {"ru": "{label}, один справочник", "en": "{label}, one directory"},
    "bench_size_one": {"ru": "{label} — {rows} объектов, синхронизируется только `--sync object`",
                       "en": "{label} — {rows} objects, only `--sync object` is synced"},
    "bench_size_five": {
        "ru": "{label} — {total} записей: {cities} городов, {objects} объектов, {categories} "
              "категорий, {violations} нарушений, {users} пользователей",
        "en": "{label} — {total} records: {cities} cities, {objects} objects, {categories} "
              "categories, {violations} violations, {users} users"},
    "bench_sizes": {"ru": "Размеры: {sizes}.", "en": "Sizes: {sizes}."},
    "bench_load": {
        "ru": "CPU машины во время нашей полной синхронизации (клиент, фальшивый портал и "
              "сервер базы делят одни и те же ядра; их сумма, делённая на число ядер, — "
              "нижняя граница времени на этой машине):",
        "en": "The machine's CPU during our full sync (the client, the fake portal and the "
              "database server share the same cores; their sum over the cores is a floor "
              "for the wall clock on this machine):"},
    "bench_load_size": {
        "ru": "{size}: клиент {client} с, портал {portal} с, база {db} с — всего {total} с "
              "CPU на {cores} ядрах, не меньше {floor} с; измерено {wall} с",
        "en": "{size}: client {client} s, portal {portal} s, database {db} s — {total} s of "
              "CPU on {cores} cores, at least {floor} s; measured {wall} s"},
    "bench_peers_how": {"ru": "Как запускались аналоги (портал — HTTPS с самоподписанным "
                              "сертификатом; он добавлен к корневым сертификатам certifi, и "
                              "этот набор передан всем запускам, нашим и аналогов, через "
                              "`REQUESTS_CA_BUNDLE` и `SSL_CERT_FILE` — загрузка набора стоит "
                              "столько же, сколько с настоящим порталом):",
                        "en": "How the peers ran (the portal is HTTPS with a self-signed "
                              "certificate; it is added to certifi's root certificates, and "
                              "that bundle is given to every run, ours and the peers', in "
                              "`REQUESTS_CA_BUNDLE` and `SSL_CERT_FILE`, so loading the "
                              "bundle costs what it costs with a real portal):"},
    "bench_peer_fast_how": {
        "ru": "fast_bitrix24: `get_all()` для списков и пользователей; для `crm.item.list` "
              "`get_all()` всегда добавляет `order[ID]`, а фальшивый портал принимает там "
              "только camelCase (как настоящий `crm.type.list`, fast_bitrix24#196), поэтому "
              "его же алгоритм повторён документированным `call()`: один вызов ради `total`, "
              "затем `call(method, [start=50, 100, …])`, который библиотека сама пакует в "
              "batch и выполняет параллельно.",
        "en": "fast_bitrix24: `get_all()` for lists and users; for `crm.item.list` "
              "`get_all()` forces `order[ID]`, which the fake portal rejects (camelCase only, "
              "as the real `crm.type.list`: fast_bitrix24#196), so its own algorithm is "
              "replayed with its documented `call()`: one call for `total`, then "
              "`call(method, [start=50, 100, …])`, which it batches and runs in parallel."},
    "bench_peer_sdk_how": {
        "ru": "b24pysdk: `as_list_fast()`; его первый запрос сортирует по `ID`, что фальшивый "
              "`crm.item.list` отвергает, поэтому `crm.item` добавлен в его собственную "
              "таблицу методов с id в нижнем регистре (там уже есть `crm.type`).",
        "en": "b24pysdk: `as_list_fast()`; its first request orders by `ID`, which the fake "
              "`crm.item.list` rejects, so `crm.item` is added to its own table of lower-case "
              "id methods (as it has `crm.type`)."},
}
