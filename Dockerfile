# Multi-arch image of bender_cc_exporter (linux/amd64, linux/arm64, linux/arm/v7).
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 \
#     --build-arg VERSION=$(cat VERSION) --build-arg REVISION=$(git rev-parse HEAD) -t bender_cc_exporter .
#   docker run -p 9955:9955 -v $PWD/config.yml:/etc/bender_cc_exporter/config.yml:ro bender_cc_exporter \
#     --config.file=/etc/bender_cc_exporter/config.yml
# The builder runs on the build platform and cross-compiles (no emulation);
# CI runs its build command, scripts/docker-build.sh, for all three platforms
# (scripts/docker-build-check.sh).
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH TARGETVARIANT
ARG VERSION=dev
ARG REVISION=unknown
RUN ./scripts/docker-build.sh /out

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="bender_cc_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Bender/ebee charge controllers (Legacy REST API)" \
      org.opencontainers.image.source="https://github.com/bender-cc/bender_cc_exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/bender_cc_exporter /bin/bender_cc_exporter
COPY --from=builder /out/bender-cc-simulator /bin/bender-cc-simulator
COPY config.yml.example /etc/bender_cc_exporter/config.yml.example
COPY LICENSE NOTICE /usr/share/doc/bender_cc_exporter/
USER nonroot:nonroot
EXPOSE 9955
ENTRYPOINT ["/bin/bender_cc_exporter"]
CMD ["--web.listen-address=:9955"]
