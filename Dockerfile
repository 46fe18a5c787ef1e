# Multi-stage build of bender_cc_exporter.
#   docker build -t bender_cc_exporter .
#   docker run -p 9955:9955 -v $PWD/config.yml:/etc/bender_cc_exporter/config.yml:ro bender_cc_exporter
# CI runs the same build command as the builder stage (scripts/docker-build-check.sh).
FROM golang:1.26 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION} -X github.com/prometheus/common/version.BuildUser=docker" \
      -o /out/bender_cc_exporter . \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/bender-cc-simulator ./cmd/bender-cc-simulator

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="bender_cc_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Bender/ebee charge controllers (Legacy REST API)" \
      org.opencontainers.image.source="https://github.com/bender-cc/bender_cc_exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/bender_cc_exporter /bin/bender_cc_exporter
COPY --from=builder /out/bender-cc-simulator /bin/bender-cc-simulator
COPY config.yml.example /etc/bender_cc_exporter/config.yml.example
USER nonroot:nonroot
EXPOSE 9955
ENTRYPOINT ["/bin/bender_cc_exporter"]
CMD ["--web.listen-address=:9955"]
