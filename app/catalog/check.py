"""Texts of --check: the checklist's heading, item names, details, fixes and summary."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- check (--check; app/commands/check.py, check_portal.py, checklist.py) -------------
    "check.heading": {
        "ru": "Проверка настроек, сопоставления, базы данных и портала (ничего не записывается):",
        "en": "Checking settings, mapping, database and portal (nothing is written):",
    },
    "check.fix": {"ru": "как исправить: {fix}", "en": "fix: {fix}"},
    # The markers of a hint inside a longer message ("...; fix: ..." and "\nnext: ...").
    "hint.fix": {"ru": "как исправить: ", "en": "fix: "},
    "hint.next": {"ru": "дальше:", "en": "next:"},
    "check.summary.failed": {
        "ru": "Проблем: {failed}, предупреждений: {warned}.",
        "en": "{failed} problem(s), {warned} warning(s).",
    },
    "check.next.failed": {
        "ru": "дальше: исправьте их и снова запустите `python cli.py --check`.",
        "en": "next: fix them and run `python cli.py --check` again.",
    },
    "check.summary.passed": {
        "ru": "Всё нужное для синхронизации на месте.",
        "en": "Everything needed for a sync is in place.",
    },
    "check.summary.warned": {
        "ru": "Всё нужное для синхронизации на месте (предупреждений выше: {warned}).",
        "en": "Everything needed for a sync is in place ({warned} warning(s) above).",
    },
    "check.next.passed": {
        "ru": "дальше: `python cli.py --dry-run` покажет, что изменит синхронизация, ничего не "
              "записывая; затем `python cli.py`.",
        "en": "next: `python cli.py --dry-run` shows what a sync would change without writing "
              "anything; then `python cli.py`.",
    },
    # Item names: English is also the item's name in --json, so it stays as it is.
    "check.name.settings": {"ru": "настройки", "en": "settings"},
    "check.name.settings_file": {"ru": "файл настроек", "en": "settings file"},
    "check.name.mapping": {"ru": "сопоставление", "en": "mapping"},
    "check.name.directory_mapping": {"ru": "{directory}: сопоставление",
                                     "en": "{directory}: mapping"},
    "check.name.reference": {"ru": "{directory}: ссылка {column} -> {target}",
                             "en": "{directory}: reference {column} -> {target}"},
    "check.name.models": {"ru": "модели", "en": "models"},
    "check.name.model": {"ru": "{directory}: модель", "en": "{directory}: model"},
    "check.name.deactivation": {"ru": "{directory}: удалённые записи",
                                "en": "{directory}: deactivation"},
    "check.name.database": {"ru": "база данных", "en": "database"},
    "check.name.running": {"ru": "синхронизация сейчас", "en": "sync now"},
    "check.name.tables": {"ru": "таблицы", "en": "tables"},
    "check.name.table_for": {"ru": "таблица модели {model}", "en": "table for {model}"},
    "check.name.table": {"ru": "таблица {table}", "en": "table {table}"},
    "check.name.sync_state": {"ru": "состояние синхронизации", "en": "sync state"},
    "check.name.read": {"ru": "{directory}: чтение", "en": "{directory}: read"},
    "check.name.btxid_unique": {"ru": "{table}.btxid: уникальность", "en": "{table}.btxid unique"},
    "check.name.webhook": {"ru": "вебхук", "en": "webhook"},
    "check.name.portal": {"ru": "портал", "en": "portal"},
    "check.name.scope": {"ru": "{directory}: право вебхука", "en": "{directory}: scope"},
    "check.name.directory_portal": {"ru": "{directory}: портал", "en": "{directory}: portal"},
    "check.name.fields": {"ru": "{directory}: поля", "en": "{directory}: fields"},
    "check.name.field": {"ru": "{directory}: поле {field}", "en": "{directory}: field {field}"},
    "check.settings.valid": {
        "ru": "в порядке; всё, что не перечислено, — по умолчанию (см. .env.example)",
        "en": "valid; every setting not listed has its default (see .env.example)",
    },
    "check.settings.row": {"ru": "{name}  {value}  из {source}",
                           "en": "{name}  {value}  from {source}"},
    "check.settings.fix": {
        "ru": "впишите названные выше переменные в .env (образец — .env.example) или в окружение",
        "en": "set the variables named above in .env (see .env.example) or in the environment",
    },
    "check.mapping.built_in": {"ru": "встроенное по умолчанию (mapping.toml нет)",
                               "en": "built-in defaults (no mapping.toml)"},
    "check.mapping.edit": {"ru": "исправьте {section} в {file}", "en": "fix {section} in {file}"},
    "check.mapping.create": {
        "ru": "создайте mapping.toml рядом с cli.py (черновик: `python cli.py --discover --write "
              "mapping.toml`) и заполните в нём {section}",
        "en": "create mapping.toml next to cli.py (a draft: `python cli.py --discover --write "
              "mapping.toml`) and fill in {section}",
    },
    "check.mapping.sections_named": {"ru": "секции справочников, названных выше",
                                     "en": "the sections of the directories named above"},
    "check.mapping.fix": {"ru": "исправьте файл сопоставления ({source})",
                          "en": "fix the mapping file ({source})"},
    "check.mapping.unconfigured_fix": {
        "ru": "{edit}; `python cli.py --discover` покажет смарт-процессы, списки и поля портала",
        "en": "{edit}; `python cli.py --discover` lists the portal's smart processes, lists "
              "and fields",
    },
    "check.reference.unconfigured": {
        "ru": "{column} хранит id справочника {target}, но [{target}] не настроен",
        "en": "{column} holds {target} ids, but [{target}] is not configured",
    },
    "check.reference.unconfigured_fix": {
        "ru": "{edit} или уберите из [{directory}] поле, которое заполняет {column}",
        "en": "{edit}, or remove the field that fills {column} from [{directory}]",
    },
    "check.models.fix": {
        "ru": "исправьте MODELS_MODULE или уберите его, чтобы взять встроенные модели",
        "en": "fix MODELS_MODULE, or remove it to use the built-in models",
    },
    "check.model.fix": {
        "ru": "укажите в [{directory}] файла mapping.toml model = \"ИмяКласса\" (один из классов "
              "выше) или опишите этот класс в моделях",
        "en": "set model = \"ClassName\" (one of the classes above) in [{directory}] of "
              "mapping.toml, or define that class in the models",
    },
    "check.origin.keys": {"ru": "{keys} — {where}", "en": "{keys} from {where}"},
    "check.origin.declared": {
        "ru": "встроенное сопоставление справочника (класс {syncer} в {file})",
        "en": "the directory's built-in mapping (class {syncer} in {file})",
    },
    "check.origin.file": {"ru": "из {section} файла {file}", "en": "{section} of {file}"},
    "check.origin.code": {"ru": "из {syncer}.{hook}() в {file}",
                          "en": "{syncer}.{hook}() in {file}"},
    "check.models.module": {"ru": "из MODELS_MODULE={where}", "en": "from MODELS_MODULE={where}"},
    "check.models.parent": {"ru": "models.py родительского проекта: {where}",
                            "en": "the parent project's models.py: {where}"},
    "check.models.built-in": {"ru": "встроенные: {where}", "en": "built-in: {where}"},
    "check.model.used": {
        "ru": "класс {model} из {file}, таблица {table} ({chosen})",
        "en": "class {model} from {file}, table {table} ({chosen})",
    },
    "check.model.named_by_default": {"ru": "имя класса — встроенное по умолчанию",
                                     "en": "the class name is the built-in default"},
    "check.model.named_in": {"ru": "имя класса — {where}", "en": "the class name from {where}"},
    "check.deactivation.fix": {
        "ru": "ничего, если так и задумано; чтобы помечать удалённые записи, добавьте колонку "
              "is_active в {table} и в модель {model}",
        "en": "nothing, if that is intended; to mark removed records, add an is_active column "
              "to {table} and to the model {model}",
    },
    "check.database.driver_fix": {
        "ru": "исправьте DATABASE_URL (часть до :// называет драйвер, например mysql+pymysql://) "
              "или установите этот драйвер",
        "en": "fix DATABASE_URL (the part before :// names the driver, e.g. mysql+pymysql://) "
              "or install that driver",
    },
    "check.database.options_fix": {"ru": "исправьте параметры после ? в DATABASE_URL",
                                   "en": "fix the options after ? in DATABASE_URL"},
    "check.database.connect_fix": {
        "ru": "проверьте DATABASE_URL (или MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, "
              "MYSQL_DATABASE) и что сервер базы запущен и доступен с этой машины",
        "en": "check DATABASE_URL (or MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, "
              "MYSQL_DATABASE) and that the database server runs and is reachable from here",
    },
    "check.database.reachable": {"ru": "доступна: {url}", "en": "reachable: {url}"},
    "check.running.detail": {
        "ru": "сейчас идёт синхронизация{since}: пока она не закончится, таблицы и их состояние "
              "меняются, а новый запуск будет отклонён (код 4)",
        "en": "a sync is running now{since}: until it ends the tables and their state change "
              "under this check, and another run is turned away (exit 4)",
    },
    "check.running.since": {"ru": " (начата {started}, запуск: {trigger})",
                            "en": " (started {started}, by {trigger})"},
    "check.running.fix": {
        "ru": "ничего: дождитесь её конца (`python cli.py --status` покажет итог) и запускайте "
              "синхронизацию после",
        "en": "nothing: wait for it to end (`python cli.py --status` shows how it went) and "
              "run a sync after that",
    },
    "check.table.fix": {
        "ru": "выполните то, что сказано в каждой строке выше (SQL), или измените сопоставление "
              "или модель",
        "en": "run what each line above says (SQL), or change the mapping or the model",
    },
    "check.table.has": {"ru": "есть {columns}", "en": "has {columns}"},
    "check.state.unreadable": {"ru": "не читается bitrix_sync_state: {error}",
                               "en": "cannot read bitrix_sync_state: {error}"},
    "check.state.fix": {
        "ru": "ничего: пока таблицу нельзя прочитать, каждый справочник читается целиком",
        "en": "nothing: while it cannot be read, every directory is read in full",
    },
    "check.read.next": {"ru": "следующий запуск: {plan}", "en": "next run reads {plan}"},
    "check.read.site_format": {"ru": " (формат дат портала: {site_format})",
                               "en": " (the portal's date format: {site_format})"},
    "check.read.iso_bound": {
        "ru": "; {problem}, поэтому граница передаётся в ISO 8601 (проверки запуска это "
              "подтверждают)",
        "en": "; {problem}, so the bound goes in ISO 8601 (the run's probes check it)",
    },
    "check.read.site_format_problem": {"ru": "; но {problem}, поэтому читается целиком",
                                       "en": "; but {problem}, so it is read in full"},
    "check.read.site_format_first": {
        "ru": "; формат дат портала узнает первый такой запуск",
        "en": "; the first such run learns the portal's date format",
    },
    "check.btxid.not_unique": {
        "ru": "нет уникального индекса: ничто не мешает двум строкам ссылаться на одну запись "
              "Bitrix24",
        "en": "no unique index: nothing stops two rows from claiming one Bitrix24 record",
    },
    "check.btxid.duplicates": {"ru": "; значений btxid, которые уже повторяются: {count}",
                               "en": "; {count} btxid value(s) already appear more than once"},
    "check.btxid.fix": {"ru": "выполните: CREATE UNIQUE INDEX ux_{table}_btxid ON {table} (btxid);",
                        "en": "run: CREATE UNIQUE INDEX ux_{table}_btxid ON {table} (btxid);"},
    "check.btxid.fix_duplicates": {"ru": "удалите повторяющиеся строки, затем {fix}",
                                   "en": "delete the repeated rows, then {fix}"},
    "check.webhook_place": {
        "ru": "Bitrix24: «Разработчикам» → «Другое» → «Входящий вебхук»",
        "en": "Bitrix24: Developer resources → Other → Inbound webhook",
    },
    "check.webhook.ok": {"ru": "отвечает, доступ есть; права: {scopes}",
                         "en": "answers and is authorised; scopes: {scopes}"},
    "check.portal.not_probed": {"ru": "{names} не проверены: вебхук не отвечает",
                                "en": "{names} not probed: the webhook does not answer"},
    "check.webhook.plan_fix": {
        "ru": "в настройках менять нечего: администратор портала должен перевести его на "
              "коммерческий тариф Bitrix24",
        "en": "nothing to change in the settings: the portal's administrator must move it to a "
              "commercial Bitrix24 plan",
    },
    "check.webhook.overload_fix": {
        "ru": "в настройках менять нечего: обратитесь в поддержку Bitrix24",
        "en": "nothing to change in the settings: contact Bitrix24 support",
    },
    "check.webhook.user_fix": {
        "ru": "создайте вебхук заново от имени активного сотрудника с нужными правами и впишите "
              "его адрес в BITRIX_WEBHOOK_URL ({place})",
        "en": "create the webhook again as an active employee with the rights needed and put "
              "its address in BITRIX_WEBHOOK_URL ({place})",
    },
    "check.webhook.fix": {
        "ru": "скопируйте адрес входящего вебхука заново в BITRIX_WEBHOOK_URL ({place}); "
              "проверьте, что вебхук не удалён и адрес портала верный",
        "en": "copy the inbound webhook's address into BITRIX_WEBHOOK_URL again ({place}); "
              "check that the webhook was not deleted and the portal's address is right",
    },
    "check.scope.missing": {
        "ru": "{method} требует права {scopes}, а у вебхука его нет",
        "en": "{method} needs the {scopes} scope, which the webhook does not have",
    },
    "check.scope.fix": {"ru": "отметьте право {scope} в настройках вебхука ({place})",
                        "en": "tick the {scope} scope in the webhook's settings ({place})"},
    "check.portal.total": {"ru": "{method} отвечает: записей {total}",
                           "en": "{method} answers: {total} records"},
    "check.portal.first_page": {"ru": "{method} отвечает: строк на первой странице {rows}",
                                "en": "{method} answers: {rows} rows on the first page"},
    "check.portal.down_fix": {
        "ru": "проверьте адрес портала и что он отвечает, затем снова запустите --check",
        "en": "check the portal's address and that it answers, then run --check again",
    },
    "check.portal.access_fix": {
        "ru": "дайте пользователю вебхука право на чтение (или создайте вебхук от имени того, у "
              "кого оно есть) и отметьте нужное право вебхука",
        "en": "give the webhook's user read access (or create the webhook as someone who has "
              "it) and tick the scope needed on the webhook",
    },
    "check.portal.params_fix": {
        "ru": "исправьте method или params в [{directory}] сопоставления; `python cli.py "
              "--discover` покажет смарт-процессы и списки портала с их id",
        "en": "fix method or params in [{directory}] of the mapping; `python cli.py --discover` "
              "lists the portal's smart processes and lists with their ids",
    },
    "check.fields.no_rows": {
        "ru": "{method} не вернул ни одной строки, поэтому имена полей проверить нельзя",
        "en": "{method} returned no rows, so the field names could not be checked",
    },
    "check.fields.no_rows_fix": {
        "ru": "если в [{directory}] должны быть записи, проверьте его params (фильтры) и право "
              "чтения у пользователя вебхука",
        "en": "if [{directory}] should have records, check its params (filters) and the "
              "webhook user's read access",
    },
    "check.fields.all": {"ru": "все сопоставленные поля ({count}) есть в строках",
                         "en": "all {count} mapped fields are in the rows"},
    "check.field.hidden": {
        "ru": "{field} (-> {column}) скрыто: у вебхука есть только право user_brief",
        "en": "{field} (-> {column}) is hidden: the webhook has only the user_brief scope",
    },
    "check.field.hidden_fix": {
        "ru": "отметьте право user_basic (или user) в настройках вебхука ({place})",
        "en": "tick the user_basic (or user) scope in the webhook's settings ({place})",
    },
    "check.field.empty": {
        "ru": "{field} (-> {column}) есть на портале, но ни в одной из {rows} прочитанных строк "
              "его нет: в них оно пустое (универсальные списки пустые свойства не отдают) или "
              "его не выбирает params.select",
        "en": "{field} (-> {column}) exists on the portal but none of the {rows} rows read "
              "carry it: it is empty in them (universal lists leave empty properties out) or "
              "params.select leaves it out",
    },
    "check.field.empty_fix": {
        "ru": "ничего, если поле просто пустое; иначе добавьте его в params.select в "
              "[{directory}]",
        "en": "nothing, if the field is simply empty; otherwise add it to params.select in "
              "[{directory}]",
    },
    "check.field.unknown": {
        "ru": "{field} (-> {column}) — не поле строк, которые вернул {method}, поэтому {column} "
              "останется пустым",
        "en": "{field} (-> {column}) is not a field of the rows {method} returned, so "
              "{column} would stay empty",
    },
    "check.field.maybe": {"ru": "может быть, {field}? ", "en": "perhaps {field}? "},
    "check.field.unknown_fix": {
        "ru": "исправьте имя в fields секции [{directory}]; `python cli.py --discover` покажет "
              "поля",
        "en": "fix the name in the fields of [{directory}]; `python cli.py --discover` lists "
              "the fields",
    },
    "check.unfilled.detail": {
        "ru": "колонка {column} модели {model} ссылается на справочник {target}, но ни одно поле "
              "[{directory}] её не заполняет: записи синхронизируются без этой связи",
        "en": "the column {column} of the model {model} refers to {target}, but no field of "
              "[{directory}] fills it: the records would sync without that link",
    },
    "check.unfilled.field": {
        "ru": "\nзначения поля Bitrix24 {field} похожи на id справочника {target} (например, "
              "{sample})",
        "en": "\nthe values of the Bitrix24 field {field} look like {target} ids (for example "
              "{sample})",
    },
    "check.unfilled.no_field": {
        "ru": "\nни одно поле первой страницы [{directory}] не похоже на id справочника "
              "{target}",
        "en": "\nno field on the first page of [{directory}] looks like {target} ids",
    },
    "check.unfilled.not_read": {
        "ru": "\nпортал не прочитан, поэтому поле, которое могло бы её заполнить, не найдено",
        "en": "\nthe portal was not read, so no field that could fill it was looked for",
    },
    "check.unfilled.field_fix": {
        "ru": "добавьте в [{directory}.fields] строку {field} = \"{column}\"; если связь не "
              "нужна — ничего",
        "en": "add the line {field} = \"{column}\" to [{directory}.fields]; nothing, if the "
              "link is not wanted",
    },
    "check.unfilled.field_and_reference_fix": {
        "ru": "добавьте в [{directory}.fields] строку {field} = \"{column}\" и в [{directory}] "
              "references = {{ {column} = \"{target}\" }}; если связь не нужна — ничего",
        "en": "add the line {field} = \"{column}\" to [{directory}.fields] and references = "
              "{{ {column} = \"{target}\" }} to [{directory}]; nothing, if the link is not wanted",
    },
    "check.unfilled.fix": {
        "ru": "впишите в [{directory}.fields] поле Bitrix24, которое хранит id справочника "
              "{target} (`python cli.py --discover` покажет поля и их значения); если связь не "
              "нужна — ничего",
        "en": "add the Bitrix24 field that holds {target} ids to [{directory}.fields] "
              "(`python cli.py --discover` lists the fields and their values); nothing, if the "
              "link is not wanted",
    },
}
