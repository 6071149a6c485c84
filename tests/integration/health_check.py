#!/usr/bin/python3
"""Asks a gRPC server's grpc.health.v1 service whether it is serving, over TLS or mTLS.

Prints the serving status (e.g. SERVING) and exits 0 when it is SERVING, 1 otherwise. A failed
call prints "health_check: error: CODE: details" on stderr and exits 1. Uses Debian's
python3-grpcio and stubs generated at build time (--stubs DIR).
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addr", required=True, help="HOST:PORT of the server")
    parser.add_argument("--ca", required=True, help="CA certificate that signed the server's")
    parser.add_argument("--cert", help="client certificate (PEM) for mTLS")
    parser.add_argument("--key", help="client private key (PEM) for mTLS")
    parser.add_argument("--service", default="", help="service name; empty means the server")
    parser.add_argument("--stubs", required=True, help="directory of the generated *_pb2 modules")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    import grpc
    import health_pb2
    import health_pb2_grpc

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key) if args.key else None,
        certificate_chain=read(args.cert) if args.cert else None,
    )
    with grpc.secure_channel(args.addr, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=args.service),
                                  timeout=args.timeout)
        except grpc.RpcError as error:
            print(f"health_check: error: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
