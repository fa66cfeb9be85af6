# nexy-stream as a small image: `docker build -t nexy-stream .`, then
# `docker run -p 50051:50051 nexy-stream` (serves on 0.0.0.0:50051; flags or NEXY_STREAM_*
# variables as for `nexy-stream serve`). tests/test_deploy_files.py runs the build stage's
# commands in a clean virtualenv.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build: the package and its dependencies into a virtualenv (wheels only, no compilers).
FROM ${PYTHON_IMAGE} AS build
ENV VENV=/opt/nexy-stream PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY nexy_stream ./nexy_stream
RUN python -m venv "$VENV" \
    && "$VENV/bin/pip" install --only-binary=:all: --no-compile . \
    && "$VENV/bin/python" -m compileall -q "$VENV/lib" \
    && "$VENV/bin/nexy-stream" serve --help > /dev/null

# Run: the same base, the virtualenv alone, a user without a name or a shell login.
FROM ${PYTHON_IMAGE}
ENV VENV=/opt/nexy-stream
ENV PATH="$VENV/bin:$PATH" PYTHONUNBUFFERED=1 NEXY_STREAM_HOST=0.0.0.0
COPY --from=build /opt/nexy-stream /opt/nexy-stream
USER 10001:10001
EXPOSE 50051 9464
ENTRYPOINT ["nexy-stream"]
CMD ["serve"]
