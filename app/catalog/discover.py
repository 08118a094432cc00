"""Texts of --discover: the listing, its notes, the mapping draft and what to run next."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- discover (--discover; app/commands/discover.py, handlers.py) ---------------------
    "discover.next": {
        "ru": "дальше: `python cli.py --discover --write mapping.toml` составит черновик "
              "сопоставления.",
        "en": "next: `python cli.py --discover --write mapping.toml` drafts the mapping.",
    },
    "discover.written": {
        "ru": "Черновик сопоставления записан в {path}.\n"
              "дальше: проверьте его, сохраните рядом с cli.py под именем mapping.toml (или "
              "укажите его в SYNC_MAPPING_FILE) и запустите `python cli.py --check`.",
        "en": "Wrote a mapping skeleton to {path}.\n"
              "next: edit it, save it next to cli.py as mapping.toml (or point "
              "SYNC_MAPPING_FILE at it), then run `python cli.py --check`.",
    },
    "discover.write.exists": {
        "ru": "{path} уже существует; ничего не записано. Выберите другое имя файла или "
              "добавьте --force, чтобы перезаписать его.",
        "en": "{path} already exists; nothing was written. Choose another file name or add "
              "--force to overwrite it.",
    },
    "discover.write.failed": {
        "ru": "Не удалось записать черновик сопоставления в {path}: {error}",
        "en": "Cannot write the mapping skeleton to {path}: {error}",
    },
    "discover.scopes": {"ru": "Права вебхука: {scopes}", "en": "Webhook scopes: {scopes}"},
    "discover.no_scopes": {"ru": "(портал их не назвал)", "en": "(none reported)"},
    "discover.heading.smart_process": {
        "ru": "Смарт-процессы (crm.type.list): method crm.item.list, params.entityTypeId",
        "en": "Smart processes (crm.type.list): method crm.item.list, params.entityTypeId",
    },
    "discover.heading.list": {
        "ru": "Универсальные списки (lists.get): method lists.element.get, "
              "params.IBLOCK_TYPE_ID и params.IBLOCK_ID",
        "en": "Universal lists (lists.get): method lists.element.get, "
              "params.IBLOCK_TYPE_ID and params.IBLOCK_ID",
    },
    "discover.heading.users": {
        "ru": "Сотрудники (user.fields): method user.get",
        "en": "Employees (user.fields): method user.get",
    },
    "discover.none_found": {"ru": ": не найдено", "en": ": none found"},
    "discover.column.field": {"ru": "поле", "en": "field"},
    "discover.column.type": {"ru": "тип", "en": "type"},
    "discover.column.title": {"ru": "название", "en": "title"},
    "discover.column.sample": {"ru": "пример", "en": "sample"},
    "discover.column.note": {"ru": "заметка", "en": "note"},
    "discover.notes": {"ru": "Примечания:", "en": "Notes:"},
    "discover.employees": {"ru": "Сотрудники", "en": "Employees"},
    "discover.field.link_smart_process": {"ru": "ссылка на смарт-процесс {id}",
                                          "en": "link to smart process {id}"},
    "discover.field.link_list": {"ru": "ссылка на список {id}", "en": "link to list {id}"},
    "discover.field.stages": {"ru": "стадии {stages}", "en": "stages {stages}"},
    "discover.field.choices": {"ru": "варианты: {values}", "en": "choices: {values}"},
    "discover.field.employee": {"ru": "ID сотрудника", "en": "employee id"},
    "discover.field.ids_of": {
        "ru": "значения похожи на id справочника {target}",
        "en": "its values look like {target} ids",
    },
    "discover.note.no_crm": {
        "ru": "У вебхука нет права crm, поэтому смарт-процессы не видны; отметьте crm, если "
              "справочник — смарт-процесс.",
        "en": "The webhook has no crm scope, so smart processes are not visible; tick crm on "
              "the webhook if a directory is a smart process.",
    },
    "discover.note.no_lists": {
        "ru": "У вебхука нет права lists, поэтому универсальные списки не видны; отметьте "
              "lists, если справочник — универсальный список.",
        "en": "The webhook has no lists scope, so universal lists are not visible; tick lists "
              "on the webhook if a directory is a universal list.",
    },
    "discover.note.no_user": {
        "ru": "У вебхука нет права user, поэтому сотрудников синхронизировать нельзя; отметьте "
              "user (или user_basic).",
        "en": "The webhook has no user scope, so employees cannot be synced; tick user (or "
              "user_basic) on the webhook.",
    },
    "discover.note.user_brief": {
        "ru": "У вебхука только право user_brief: user.get скрывает EMAIL, PERSONAL_MOBILE и "
              "WORK_PHONE. Отметьте user_basic (или user), чтобы их синхронизировать.",
        "en": "The webhook has only the user_brief scope: user.get hides EMAIL, "
              "PERSONAL_MOBILE and WORK_PHONE. Tick user_basic (or user) on the webhook to "
              "sync them.",
    },
    "discover.note.crm_admin": {
        "ru": "crm.type.list требует прав администратора CRM, а у пользователя, создавшего "
              "вебхук, их нет, поэтому список смарт-процессов не получить. Создайте вебхук от "
              "имени администратора CRM или найдите entityTypeId каждого смарт-процесса сами: "
              "это число в его адресе в Bitrix24 (.../crm/type/<entityTypeId>/list/...). Затем "
              "запустите `python cli.py --discover --entity-type-id <entityTypeId>`, чтобы "
              "увидеть его поля (crm.type.getByEntityTypeId и crm.item.fields нужно только "
              "право чтения), и впишите params.entityTypeId в mapping.toml.",
        "en": "crm.type.list needs CRM administrator rights, and the user who created this "
              "webhook does not have them, so smart processes cannot be listed. Either create "
              "the webhook as a CRM administrator, or find each smart process's entityTypeId "
              "yourself: it is the number in the smart process's address in Bitrix24 "
              "(.../crm/type/<entityTypeId>/list/...). Then run `python cli.py --discover "
              "--entity-type-id <entityTypeId>` to see its fields (crm.type.getByEntityTypeId "
              "and crm.item.fields need only read access) and set params.entityTypeId in "
              "mapping.toml.",
    },
    "discover.note.no_smart_processes": {
        "ru": "Список смарт-процессов не получен: {error}",
        "en": "Smart processes could not be listed: {error}",
    },
    "discover.note.no_title": {"ru": "Смарт-процесс {id}: без названия: {error}",
                               "en": "Smart process {id}: no title: {error}"},
    "discover.note.smart_process": {"ru": "Смарт-процесс {id}: {error}",
                                    "en": "Smart process {id}: {error}"},
    "discover.note.no_lists_read": {
        "ru": "Список универсальных списков не получен: {error}",
        "en": "Universal lists could not be listed: {error}",
    },
    "discover.note.list": {"ru": "Список {id}: {error}", "en": "List {id}: {error}"},
    "discover.note.no_users": {"ru": "Сотрудников прочитать не удалось: {error}",
                               "en": "Employees could not be read: {error}"},
    "discover.skeleton.head": {
        "ru": "Черновик mapping.toml, составленный `python cli.py --discover --write`.\n"
              "Проверьте каждую секцию: какой смарт-процесс или список что хранит, какие поля\n"
              "в какие колонки. Строки с # — подсказки; раскомментируйте нужные и впишите\n"
              "колонку. Колонки здесь — встроенных моделей (app/db/models.py); если у вас свои\n"
              "модели, поставьте свои имена. Затем: `python cli.py --check`.\n"
              "Секрет вебхука в этот файл не пишется.",
        "en": "A draft of mapping.toml, written by `python cli.py --discover --write`.\n"
              "Check each section: which smart process or list holds what, which fields go\n"
              "into which columns. Lines starting with # are hints; uncomment the ones you\n"
              "need and fill in the column. The columns are the built-in models'\n"
              "(app/db/models.py); with models of your own, put your names. Then run\n"
              "`python cli.py --check`. The webhook's secret is never written here.",
    },
    "discover.skeleton.section": {"ru": "{title}: таблица {table} (модель {model}).",
                                  "en": "{title}: table {table} (model {model})."},
    "discover.skeleton.source": {"ru": " Источник: «{title}».", "en": " Source: «{title}»."},
    "discover.skeleton.not_guessed.smart_process": {
        "ru": "Не удалось угадать смарт-процесс; раскомментируйте нужный:",
        "en": "Could not guess the smart process; uncomment the right one:",
    },
    "discover.skeleton.not_guessed.list": {
        "ru": "Не удалось угадать универсальный список; раскомментируйте нужный:",
        "en": "Could not guess the universal list; uncomment the right one:",
    },
    "discover.skeleton.nothing_found": {
        "ru": "--discover ничего не нашёл: см. его примечания",
        "en": "--discover found none: see its notes",
    },
    "discover.skeleton.fields_head": {"ru": "поле Bitrix24 = колонка",
                                      "en": "Bitrix24 field = column"},
    "discover.skeleton.example": {"ru": "например: {sample}", "en": "e.g. {sample}"},
}
