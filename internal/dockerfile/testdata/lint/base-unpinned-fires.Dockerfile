ARG GO_VERSION=1.26
FROM golang AS deps
FROM golang:latest AS build
FROM golang:${GO_VERSION} AS test
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /go/bin/app /app
ENTRYPOINT ["/app"]
