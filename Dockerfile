# syntax=docker/dockerfile:1
# One image for every process of Bulk Customer Upload: the API, the Dramatiq workers, the
# recovery sweeper and the Streamlit UI. compose.yaml picks the command of each service and
# holds the healthchecks, so the image has no HEALTHCHECK of its own.
#
#   docker compose build        (or: docker build -t bulk-customer-upload .)

ARG PYTHON_IMAGE=python:3.12-slim

# --- build: wheels for the dependencies and for the project --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# A compiler only in this stage, for a dependency that has no wheel for this platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The runtime dependencies alone first (no dev extra), so this layer is rebuilt only when
# pyproject.toml changes, not on every source edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; project = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(project['dependencies']))" > requirements.txt \
    && pip wheel --wheel-dir /wheels/deps -r requirements.txt
# Then the project itself (its package list is in pyproject.toml).
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels/app .

# --- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
       --shell /usr/sbin/nologin app
# Wheels are bind-mounted from the build stage, so they do not stay in a layer.
RUN --mount=type=bind,from=build,source=/wheels/deps,target=/tmp/wheels \
    pip install --no-index /tmp/wheels/*.whl
RUN --mount=type=bind,from=build,source=/wheels/app,target=/tmp/wheels \
    pip install --no-index --no-deps /tmp/wheels/*.whl
WORKDIR /app
# `streamlit run` takes a script path: the UI's sources, read-only for the app user.
COPY ui/ ./ui/
# DATA_DIR (only used by `make run`'s embedded servers) stays writable, just in case.
RUN mkdir -p /app/var && chown app:app /app/var
USER app
EXPOSE 8000 8501
CMD ["python", "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
