# bitrix-sync as a long-running service: syncs Bitrix24 directories on SYNC_SCHEDULE.
#   docker compose up -d --build        (settings come from .env, see .env.example)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONUTF8=1 \
    PYTHONIOENCODING=utf-8 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin bitrix

WORKDIR /app

# Requirements first: the dependency layer is reused while only the code changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# The code stays root-owned (the service cannot rewrite it); the folder itself belongs
# to the service user so it can create its log file and other runtime files next to it.
RUN chown bitrix:bitrix /app

USER bitrix

# Unhealthy when the last successful sync is older than a day plus a margin.
HEALTHCHECK --interval=5m --timeout=60s --start-period=2m --retries=3 \
    CMD ["python", "cli.py", "--status", "--max-age", "26h"]

# Exec form: no shell in between, so python itself gets the SIGTERM of `docker stop`.
CMD ["python", "service.py"]
