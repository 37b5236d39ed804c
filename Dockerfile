# syntax=docker/dockerfile:1
# Build: docker build -t onoffsync .
# Run:   docker run -p 8080:8080 -v onoffsync-data:/data -e ONOFF_API_KEY=... onoffsync
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/onoffsync ./cmd/onoffsync \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/onoffsync /onoffsync
COPY --from=build --chown=nonroot:nonroot /out/data /data
COPY config.example.yaml /etc/onoffsync/config.yaml
ENV ONOFFSYNC_CONFIG=/etc/onoffsync/config.yaml \
    ONOFFSYNC_DATA_DIR=/data \
    ONOFFSYNC_LISTEN=:8080
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/onoffsync"]
CMD ["serve"]
