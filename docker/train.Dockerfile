# CUDA image of longterm for training (pretrain, SFT, DPO, eval), single or multi GPU via torchrun.
#
#   docker build -f docker/train.Dockerfile -t longterm-train .
#   docker run --gpus all -v "$PWD/runs:/app/runs" longterm-train \
#       torchrun --standalone --nproc_per_node=8 -m model.train ...   # see docs/operations.md
#
# PyPI's torch 2.13.0 wheel for Linux x86_64 is the CUDA build and brings its CUDA runtime,
# cuDNN and NCCL as wheels, so a slim Python base is enough; the host needs the NVIDIA driver
# and container toolkit only. The same project code as the data image, without Ray workers.
FROM python:3.11-slim-bookworm

ARG TORCH_VERSION=2.13.0

# DL3064 flags TOKENIZERS_PARALLELISM for the word "TOKEN"; it holds no secret.
# hadolint ignore=DL3064
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    RAY_AUTH_MODE=disabled \
    TOKENIZERS_PARALLELISM=false \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN useradd --create-home --uid 1000 longterm
WORKDIR /app

# pinned through TORCH_VERSION (hadolint cannot see through the variable)
# hadolint ignore=DL3013
RUN pip install "torch==${TORCH_VERSION}"

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
