# AtomTrack in a container: built with scripts/install.sh (Swift runtime linked statically), run
# on a slim Debian with only the system libraries it links (OpenBLAS, libpng, libtiff).
#   docker build -t atomtrack .
#   docker run --rm -v "$PWD:/data" atomtrack analyze movie.dm4 --material ws2 --frame-time 0.5 --out results
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas-dev libpng-dev libtiff-dev libhdf5-dev pkg-config git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/install.sh /opt/atomtrack

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0 libpng16-16 libtiff6 libhdf5-103-1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/atomtrack /opt/atomtrack
ENV PATH=/opt/atomtrack/bin:$PATH
WORKDIR /data
ENTRYPOINT ["atomtrack"]
CMD ["--help"]
