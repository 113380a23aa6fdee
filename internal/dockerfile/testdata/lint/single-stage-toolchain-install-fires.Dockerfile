FROM debian:12.11-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN make -C /src
USER 1000
CMD ["/src/app"]
