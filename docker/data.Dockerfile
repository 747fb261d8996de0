# CPU image of longterm: Ray head and workers (the data plane) and the Prefect process worker.
#
#   docker build -f docker/data.Dockerfile -t longterm-data .
#   docker build -f docker/data.Dockerfile --build-arg TORCH_INDEX_URL=<PyTorch CPU wheel index> -t longterm-data .
#
# torch is installed first and pinned (the project needs it importable for model/ and the CLI);
# without TORCH_INDEX_URL pip takes PyPI's default build of torch 2.13.0, which on x86_64 is the
# CUDA one (several GB). Then the pinned requirements, the project, and last the fastText binding
# that must win over the two other packages that ship a `fasttext` module.
FROM python:3.11-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=""

# DL3064 flags TOKENIZERS_PARALLELISM for the word "TOKEN"; it holds no secret.
# hadolint ignore=DL3064
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    RAY_AUTH_MODE=disabled \
    TOKENIZERS_PARALLELISM=false

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN useradd --create-home --uid 1000 longterm
WORKDIR /app

# pinned through TORCH_VERSION (hadolint cannot see through the variable)
# hadolint ignore=DL3013
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==${TORCH_VERSION}"

COPY requirements.txt pyproject.toml README.md ./
RUN pip install -r requirements.txt

COPY . .
RUN pip install --no-deps . \
    && (pip uninstall -y fasttext || true) \
    && pip install --force-reinstall --no-deps fasttext-numpy2-wheel==0.9.2 \
    && mkdir -p /app/runs && chown -R longterm:longterm /app

USER 1000:1000
ENV PYTHONPATH=/app
CMD ["longterm", "--help"]
