FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
ADD https://example.com/tool-1.2.3.tar.gz /opt/
ADD --checksum=sha256:0123 https://example.com/tool.sig /opt/
ADD https://github.com/moby/buildkit.git#v0.14.1:docs /buildkit-docs
ADD --checksum=be1f38e git@github.com:moby/buildkit.git /buildkit
ADD ["https://example.com/a b.txt", "/srv/"]
ENTRYPOINT ["/app"]
