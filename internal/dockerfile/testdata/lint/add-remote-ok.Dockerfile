FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://mirrors.edge.kernel.org/pub/linux/kernel/Historic/linux-0.01.tar.gz /opt/
ADD https://github.com/moby/buildkit.git#3c6a8a7a2b4f9e0c1d2e3f405162738495a6b7c8:docs /buildkit-docs
ADD https://github.com/moby/buildkit.git?ref=3c6a8a7a2b4f9e0c1d2e3f405162738495a6b7c8 /buildkit
ADD --checksum=3c6a8a7a2b4f9e0c1d2e3f405162738495a6b7c8 git@github.com:moby/buildkit.git#v0.14.1 /buildkit-tag
ADD app.tar.gz /srv/
ENTRYPOINT ["/app"]
