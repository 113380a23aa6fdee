# One stage: the Go toolchain ships with the binary.
FROM golang:1.26-bookworm@sha256:18aedc16aa19b3fd7ded7245fc14b109e054d65d22ed53c355c899582bbb2113
WORKDIR /src
COPY . .
RUN go build -o /app .
USER 65532:65532
ENTRYPOINT ["/app"]
