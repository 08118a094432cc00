"""Texts about the portal: its refusals and answers that never came whole."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # --- Bitrix24 answered with an error (app/bitrix/client.py) --------------------------
    "portal.said": {"ru": "(ответ Bitrix24: {answer})", "en": "(Bitrix24 said: {answer})"},
    "portal.overload": {
        "ru": "Поддержка Bitrix24 заблокировала REST-запросы этого портала (OVERLOAD_LIMIT) "
              "{said}. Повторы не помогут; обратитесь в поддержку Bitrix24.",
        "en": "Bitrix24 support has blocked REST calls on this portal (OVERLOAD_LIMIT) "
              "{said}. Retrying will not help; contact Bitrix24 support.",
    },
    "portal.plan_rest": {
        "ru": "Тариф портала Bitrix24 не разрешает REST-запросы {said}: REST API и вебхуки "
              "работают только на коммерческих тарифах. Вебхук ни при чём; администратору "
              "портала нужно перейти на коммерческий тариф.",
        "en": "The portal's Bitrix24 plan does not allow REST calls {said}: the REST API and "
              "webhooks work only on commercial plans. The webhook itself is not the problem; "
              "the portal's administrator has to move the portal to a commercial plan.",
    },
    "portal.owner": {
        "ru": "Портал не смог действовать от имени владельца вебхука {said}: сотрудник, "
              "создавший вебхук, уволен или лишился прав. Создайте вебхук заново от имени "
              "активного сотрудника и впишите его адрес в BITRIX_WEBHOOK_URL.",
        "en": "The portal could not act as the webhook's owner {said}: the employee who "
              "created the webhook has been deactivated (fired) or has lost the rights. "
              "Create the webhook again as an active employee and put its URL in "
              "BITRIX_WEBHOOK_URL.",
    },
    "portal.https_only": {
        "ru": "Портал принимает только https {said}; BITRIX_WEBHOOK_URL должен начинаться "
              "с https://.",
        "en": "The portal accepts only https {said}; BITRIX_WEBHOOK_URL must start with "
              "https://.",
    },
    "portal.own_database": {
        "ru": "Собственная база портала дала сбой на {method} {said}. Это сбой на стороне "
              "Bitrix24; запрос повторён один раз, справочник ждёт следующего запуска. Если "
              "не пройдёт, сообщите в поддержку Bitrix24.",
        "en": "The portal's own database failed on {method} {said}. This is a fault on the "
              "Bitrix24 side; it was retried once, and this directory waits for the next "
              "run. If it stays, tell Bitrix24 support.",
    },
    "portal.rejected": {
        "ru": "Bitrix24 отклонил {method} {said}",
        "en": "Bitrix24 rejected {method} {said}",
    },
    "portal.busy": {
        "ru": "Bitrix24 перегружен или сбоит на {method} {said}",
        "en": "Bitrix24 is busy or failing on {method} {said}",
    },
    "portal.webhook_rejected": {
        "ru": "Портал отклонил вебхук {said}. Проверьте BITRIX_WEBHOOK_URL: код может быть "
              "неверным, вебхук — удалён или просрочен.",
        "en": "The portal rejected the webhook {said}. Check BITRIX_WEBHOOK_URL: the code "
              "may be wrong, deleted or expired.",
    },
    "portal.no_scope": {
        "ru": "У вебхука нет права на {method} {said}; отметьте нужное право (crm, lists, "
              "user, department) у вебхука в Bitrix24.",
        "en": "The webhook has no permission for {method} {said}; tick the needed scope "
              "(crm, lists, user, department) on the webhook in Bitrix24.",
    },
    "portal.no_method": {
        "ru": "Bitrix24 не знает метод {method} {said}; проверьте имя метода в "
              "сопоставлении и права вебхука.",
        "en": "Bitrix24 does not know the method {method} {said}; check the method name in "
              "the mapping and the webhook's scopes.",
    },
    "portal.plan_lists": {
        "ru": "Тариф портала Bitrix24 не включает {method} {said}: универсальные списки есть "
              "только на расширенных тарифах. Вебхук ни при чём; администратору портала нужно "
              "сменить тариф (остальные справочники синхронизируются).",
        "en": "The portal's Bitrix24 plan does not include {method} {said}: universal lists "
              "work only on extended plans. The webhook is not the problem; the portal's "
              "administrator has to change the plan (the other directories are synced).",
    },
    "portal.access_denied": {
        "ru": "Нет доступа к {method} {said}; пользователю вебхука нужно право на чтение.",
        "en": "Access denied to {method} {said}; the webhook's user needs read access to it.",
    },
    # --- no usable answer from the portal (app/bitrix/transport.py, client.py) -----------
    "transport.tls": {
        "ru": "Проверка TLS портала не прошла для {method}: {reason}. {fix}",
        "en": "TLS check of the portal failed for {method}: {reason}. {fix}",
    },
    "transport.tls_fix_trust": {
        "ru": "Для коробочного портала с самоподписанным сертификатом или сертификатом центра "
              "компании задайте BITRIX_VERIFY_SSL=false либо путь к корневому сертификату "
              "компании (PEM) в переменной окружения REQUESTS_CA_BUNDLE.",
        "en": "For an on-premise portal with a self-signed certificate or one of the company's "
              "own authority set BITRIX_VERIFY_SSL=false, or the path of the company's root "
              "certificate (PEM) in the environment variable REQUESTS_CA_BUNDLE.",
    },
    "transport.tls_fix_host": {
        "ru": "Проверьте адрес портала в BITRIX_WEBHOOK_URL: он должен быть тем именем, на "
              "которое выдан сертификат.",
        "en": "Check the portal's address in BITRIX_WEBHOOK_URL: it must be the name the "
              "certificate is issued for.",
    },
    "transport.tls_fix_renew": {
        "ru": "Сертификат портала нужно продлить (это делает администратор портала).",
        "en": "The portal's certificate must be renewed (the portal's administrator does it).",
    },
    "transport.tls_fix_clock": {
        "ru": "Проверьте дату и время на этой машине.",
        "en": "Check this machine's date and time.",
    },
    "transport.tls_fix_bundle": {
        "ru": "REQUESTS_CA_BUNDLE (или CURL_CA_BUNDLE) должна указывать на файл с сертификатами "
              "в формате PEM (текст, начинается с -----BEGIN CERTIFICATE-----).",
        "en": "REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) must name a file of certificates in PEM "
              "form (text starting with -----BEGIN CERTIFICATE-----).",
    },
    "transport.cannot_connect": {
        "ru": "не удаётся подключиться к порталу: {reason}",
        "en": "cannot connect to the portal: {reason}",
    },
    "transport.proxy": {"ru": "отказал прокси (HTTPS_PROXY или системные настройки прокси)",
                        "en": "the proxy failed (HTTPS_PROXY, or the system proxy settings)"},
    "transport.dns": {"ru": "имя хоста не найдено (DNS)", "en": "host name not found (DNS)"},
    "transport.refused": {"ru": "соединение отвергнуто (Connection refused)",
                          "en": "Connection refused"},
    "transport.connect_timeout": {"ru": "время ожидания соединения истекло",
                                  "en": "connection timed out"},
    "transport.no_route": {"ru": "нет маршрута до хоста (No route to host)",
                           "en": "No route to host"},
    "transport.reset": {"ru": "соединение сброшено (Connection reset)",
                        "en": "Connection reset"},
    "transport.closed": {"ru": "портал закрыл соединение, не ответив",
                         "en": "the portal closed the connection without answering"},
    "transport.timed_out": {"ru": "время ожидания истекло", "en": "timed out"},
    "transport.tls_untrusted": {
        "ru": "сертификат портала не подписан доверенным центром сертификации (самоподписанный "
              "или неизвестный издатель)",
        "en": "the portal's certificate is not signed by a trusted authority (self-signed "
              "or an unknown issuer)"},
    "transport.tls_host": {"ru": "сертификат выдан на другое имя, не на адрес портала",
                           "en": "the certificate is for another name, not the portal's"},
    "transport.tls_expired": {"ru": "срок действия сертификата портала истёк",
                              "en": "the portal's certificate has expired"},
    "transport.tls_not_yet": {"ru": "срок действия сертификата портала ещё не начался",
                              "en": "the portal's certificate is not valid yet"},
    "transport.tls_empty_bundle": {
        "ru": "в наборе доверенных сертификатов нет ни одного сертификата",
        "en": "the bundle of trusted certificates holds no certificate"},
    "transport.broke_off": {
        "ru": "портал оборвал ответ после {size} байт ({reason})",
        "en": "the portal broke off its answer after {size} bytes ({reason})",
    },
    "transport.too_slow": {
        "ru": "Bitrix24 не ответил полностью за {timeout} с (BITRIX_TIMEOUT)",
        "en": "Bitrix24 did not answer completely within {timeout} s (BITRIX_TIMEOUT)",
    },
    "transport.too_large": {
        "ru": "Ответ Bitrix24 на {method} больше {size} МБ (BITRIX_MAX_RESPONSE_MB): "
              "{detail}, чтение остановлено. Настоящая страница — не больше нескольких МБ: "
              "проверьте, что отвечает по адресу из BITRIX_WEBHOOK_URL (прокси или "
              "неисправный портал), или увеличьте BITRIX_MAX_RESPONSE_MB, если записи "
              "действительно так велики.",
        "en": "Bitrix24's answer to {method} is larger than {size} MB "
              "(BITRIX_MAX_RESPONSE_MB): {detail}, so reading it was stopped. A real page is "
              "a few MB at most: check what answers at the address in BITRIX_WEBHOOK_URL (a "
              "proxy or a broken portal), or raise BITRIX_MAX_RESPONSE_MB if the records "
              "really are that large.",
    },
    "transport.http_404": {
        "ru": "Портал ответил HTTP 404 (это не ответ REST Bitrix24) на {method}; проверьте "
              "адрес в BITRIX_WEBHOOK_URL.",
        "en": "The portal answered HTTP 404 (not a Bitrix24 REST answer) for {method}; check "
              "the address in BITRIX_WEBHOOK_URL.",
    },
    "transport.http_504": {
        "ru": "внешний сервер портала оборвал запрос (HTTP 504, gateway timeout; облачный "
              "портал обрывает любой запрос через 60 с)",
        "en": "the portal's front end cut the request off (HTTP 504, gateway timeout; a cloud "
              "portal cuts any request at 60 s)",
    },
    "transport.not_json": {
        "ru": "Bitrix24 ответил HTTP {status}, но не JSON ({kind})",
        "en": "Bitrix24 answered with HTTP {status} and a non-JSON body ({kind})",
    },
    # --- answers the client cannot use (app/bitrix/client.py) ----------------------------
    "portal.redirected": {
        "ru": "Портал перенаправил {method} на {where}; адрес портала, вероятно, изменился: "
              "обновите BITRIX_WEBHOOK_URL.",
        "en": "The portal redirected {method} to {where}; the portal address has probably "
              "changed: update BITRIX_WEBHOOK_URL.",
    },
    "portal.no_result": {
        "ru": "Bitrix24 ответил на {method} HTTP {status} без результата",
        "en": "Bitrix24 answered {method} with HTTP {status} and no result",
    },
    "portal.webhook_refused": {
        "ru": "Портал отказал вебхуку (HTTP {status}) на {method}; проверьте "
              "BITRIX_WEBHOOK_URL.",
        "en": "The portal refused the webhook (HTTP {status}) for {method}; check "
              "BITRIX_WEBHOOK_URL.",
    },
    "portal.batch_shape": {
        "ru": "Bitrix24 ответил на batch результатом неожиданного вида",
        "en": "Bitrix24 answered batch with an unexpected result shape",
    },
    "portal.list_shape": {
        "ru": "список пришёл в неожиданном виде: {kind}",
        "en": "unexpected list result shape: {kind}",
    },
    "portal.nothing_for": {
        "ru": "Bitrix24 ничего не вернул на {method} {doing}",
        "en": "Bitrix24 returned nothing for {method} {doing}",
    },
}
