ARG GO_IMAGE=golang:1.26-bookworm@sha256:18aedc16aa19b3fd7ded7245fc14b109e054d65d22ed53c355c899582bbb2113
FROM ${GO_IMAGE} AS build
RUN CGO_ENABLED=0 go build -o /out/app .
FROM build AS test
RUN go test ./...
FROM scratch AS empty
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
