"""Texts of the log records that reach the console without --verbose (WARNING and above).

A record logged with a catalog text (`log.warning(say(...))`) is shown on the console in
the console's language and written to the log file in English (app.logging_setup).
The English wording is the log file's line: keep it stable, people search for it.
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- the portal: retries, slow batches, outages (app/bitrix/) ------------------------
    "log.retry": {
        "ru": "Bitrix24 {method}: {error}; повтор {attempt}/{retries} через {delay:.1f} с",
        "en": "Bitrix24 {method}: {error}; retry {attempt}/{retries} in {delay:.1f} s",
    },
    "log.batch_retry": {
        "ru": "Bitrix24 {method}: {error} внутри пакета; повтор {attempt}/{retries} через "
              "{delay:.1f} с с того места, где чтение остановилось",
        "en": "Bitrix24 {method}: {error} inside a batch; retry {attempt}/{retries} in "
              "{delay:.1f} s from where it stopped",
    },
    "log.first_page_alone": {
        "ru": "Bitrix24 {method}: {error} в первом пакете; повтор: первая страница отдельным "
              "запросом",
        "en": "Bitrix24 {method}: {error} in the first batch; retry: the first page on its own",
    },
    "log.first_batch_alone": {
        "ru": "Bitrix24: {error} в первом пакете; повтор: первая страница каждого списка "
              "отдельным запросом",
        "en": "Bitrix24: {error} in the first batch; retry: each list's first page on its own",
    },
    "log.gave_up": {
        "ru": "{error} (попыток: {attempts}, больше не повторяю)",
        "en": "{error} (gave up after {attempts} attempts)",
    },
    "log.batch_gave_up": {
        "ru": "{error} (команда пакета; попыток: {attempts}, больше не повторяю)",
        "en": "{error} (a batch command, gave up after {attempts} attempts)",
    },
    "log.method_gave_up": {
        "ru": "Bitrix24 {method}: {error} (попыток: {attempts}, больше не повторяю)",
        "en": "Bitrix24 {method}: {error} (gave up after {attempts} attempts)",
    },
    "log.portal_down": {
        "ru": "{error} (не удался ни один запрос; попыток: {attempts}). {what}",
        "en": "{error} (every request failed; gave up after {attempts} attempts). {what}",
    },
    "log.portal_down_unreached": {
        "ru": "Проверьте, что адрес портала в BITRIX_WEBHOOK_URL верен и доступен с этой "
              "машины.",
        "en": "Check that the portal address in BITRIX_WEBHOOK_URL is right and reachable from "
              "this machine.",
    },
    "log.portal_down_reached": {
        "ru": "Проверьте, что BITRIX_WEBHOOK_URL указывает на сам портал (а не на веб-страницу "
              "или страницу ошибки прокси), и сеть между этой машиной и порталом.",
        "en": "Check that BITRIX_WEBHOOK_URL points at the portal itself (not a web page or a "
              "proxy's error page), and the network between this machine and the portal.",
    },
    "log.time_budget_wait": {
        "ru": "Bitrix24 {method}: 10-минутный лимит времени метода исчерпан "
              "(OPERATION_TIME_LIMIT); жду {wait:.0f} с, пока он освободится",
        "en": "Bitrix24 {method}: the method's 10-minute time budget is spent "
              "(OPERATION_TIME_LIMIT); waiting {wait:.0f} s for it to free",
    },
    "log.time_budget_pause": {
        "ru": "Bitrix24 {method} израсходовал большую часть 10-минутного лимита времени; "
              "пауза {pause:.0f} с, чтобы портал не заблокировал метод",
        "en": "Bitrix24 {method} has used most of its 10-minute time budget; pausing "
              "{pause:.0f} s so the portal does not block it",
    },
    "log.batch_smaller": {
        "ru": "{method}: {error}; повторяю пакетами по {size} команд",
        "en": "{method}: {error}; retrying it as batches of {size} commands",
    },
    "log.batch_slow": {
        "ru": "{method}: пакет из {pages} страниц шёл {seconds:.0f} с (портал обрывает "
              "запросы на 60 с); дальше — по {smaller} страниц в пакете",
        "en": "{method}: a batch of {pages} pages took {seconds:.0f} s (the portal cuts "
              "requests at 60 s); using {smaller} pages per batch",
    },
    "log.batch_split": {
        "ru": "пакет из {count} команд: {error}; отправляю его снова двумя пакетами",
        "en": "batch of {count} commands: {error}; sending it again as two batches",
    },
    "log.batch_again": {
        "ru": "пакет из {count} команд: {error}; отправляю его ещё раз",
        "en": "batch of {count} commands: {error}; sending it once more",
    },
    "log.batch_unanswered": {
        "ru": "пакет из {count} команд ({labels}): снова {error}; они остаются без ответа",
        "en": "batch of {count} commands ({labels}): {error} again; they go without an answer",
    },
    "log.offset_reread": {
        "ru": "{method} изменился или пришёл неполным, пока читался постранично ({problem}); "
              "читаю его ещё раз",
        "en": "{method} changed or came back short while it was read page by page "
              "({problem}); reading it once more",
    },
    "log.offset_total": {
        "ru": "итог изменился с {before} на {after} на start={start}",
        "en": "the total went from {before} to {after} at start={start}",
    },
    "log.offset_short_page": {
        "ru": "на странице start={start} было записей: {rows}, а после неё пришло ещё {later}",
        "en": "the page at start={start} had {rows} rows, and {later} followed",
    },
    "log.offset_count": {
        "ru": "пришло записей: {count}, а портал насчитал {total}",
        "en": "{count} rows arrived but the portal counted {total}",
    },
    "log.offset_order": {
        "ru": "id {key} после id {previous} на странице start={start}",
        "en": "id {key} after id {previous} on the page at start={start}",
    },
    # --- a run's directories (app/sync/) ---------------------------------------------------
    "log.missing_reference": {
        "ru": "{name} btxid {btxid}: {column} ссылается на {target} {value}, которого нет в "
              "локальной таблице; записан NULL",
        "en": "{name} btxid {btxid}: {column} refers to {target} {value}, which is not in the "
              "local table; stored NULL",
    },
    "log.notice": {"ru": "{name}: {notice}", "en": "{name}: {notice}"},
    "log.no_active_column": {
        "ru": "в таблице {table} нет столбца is_active, поэтому записи, удалённые в Bitrix24, "
              "остаются как есть (active_column в [{name}] файла mapping.toml может назвать "
              "другой столбец; \"\" отключает это замечание)",
        "en": "table {table} has no is_active column, so records removed in Bitrix24 are left "
              "as they are (active_column in [{name}] of mapping.toml can name another column; "
              "\"\" turns this note off)",
    },
    "log.removed_unchecked": {
        "ru": "{method} читается постранично и не умеет искать записи по id, поэтому "
              "записи, которых он не вернул ({count}), не деактивированы",
        "en": "{method} is read page by page and cannot be asked for records by id, so the "
              "{count} record(s) it did not return were not deactivated",
    },
    # --- the database during a run (app/db/, app/sync/state.py) ---------------------------
    "log.no_state_table": {
        "ru": "таблица bitrix_sync_state недоступна ({why}); каждый справочник читается "
              "целиком, состояние не сохраняется",
        "en": "cannot use the table bitrix_sync_state ({why}); every directory is read in "
              "full and no state is kept",
    },
    "log.no_history": {
        "ru": "не удаётся записать этот запуск в таблицу {table}: {why}; синхронизация идёт "
              "дальше без истории",
        "en": "cannot record this run in the table {table}: {why}; the sync goes on without "
              "history",
    },
    "log.no_run_lock": {
        "ru": "для баз {dialect} блокировки запуска нет; следите, чтобы одновременно шла только "
              "одна синхронизация",
        "en": "no run lock for {dialect} databases; make sure only one sync runs at a time",
    },
    "log.not_alive": {
        "ru": "не удаётся отметить запуск {run} как идущий: {why}",
        "en": "cannot mark run {run} as alive: {why}",
    },
    # --- the service's schedule (app/service/scheduler.py, service.py) -------------------
    "log.clock_back": {
        "ru": "часы переведены назад на {by}; следующий запуск пересчитан: {next}",
        "en": "the clock moved back by {by}; next run recomputed: {next}",
    },
    "log.skip_tick": {
        "ru": "предыдущий запуск ещё идёт; пропускаю запуск на {when}",
        "en": "previous run still in progress; skipping tick at {when}",
    },
    "log.skip_ticks": {
        "ru": "предыдущий запуск ещё идёт; пропускаю запуски с {when} ({count})",
        "en": "previous run still in progress; skipping {count} ticks since {when}",
    },
    "log.missed": {
        "ru": "пропущено запусков по расписанию с {when}: {count} (машина спала или менялись "
              "часы?); запускаю один раз сейчас",
        "en": "missed {count} scheduled runs since {when} (machine asleep or clock changed?); "
              "running once now",
    },
    "log.at_least": {"ru": "не меньше {count}", "en": "at least {count}"},
    "log.late": {
        "ru": "запуск с опозданием на {late} (он был назначен на {due})",
        "en": "running {late} late (the run was due at {due})",
    },
    "log.run_exit_code": {
        "ru": "запуск по расписанию завершился с кодом {code}",
        "en": "scheduled run exited with code {code}",
    },
    "log.run_failed": {
        "ru": "запуск по расписанию не удался: {what}",
        "en": "scheduled run failed: {what}",
    },
    "log.callback_failed": {
        "ru": "обработка итога запуска не удалась: {what}",
        "en": "on_result callback failed: {what}",
    },
    "log.service_failed": {
        "ru": "сервис остановился из-за ошибки: {what}",
        "en": "the service failed: {what}",
    },
    "log.unexpected": {
        "ru": "Непредвиденная ошибка",
        "en": "Unexpected error",
    },
    # --- durations in these lines (app/cron.py format_duration) ----------------------------
    "log.days": {"ru": "{days} д {hours} ч", "en": "{days}d {hours}h"},
    "log.hours": {"ru": "{hours} ч {minutes} мин", "en": "{hours}h {minutes}m"},
    "log.minutes": {"ru": "{minutes} мин {seconds} с", "en": "{minutes}m {seconds}s"},
    "log.seconds": {"ru": "{seconds} с", "en": "{seconds}s"},
}
