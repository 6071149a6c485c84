#!/usr/bin/python3
"""Lists the services a gRPC server offers through server reflection (v1alpha), over mTLS.

Prints one fully qualified service name per line and exits 0. A failed call prints
"reflection_list: error: CODE: details" on stderr and exits 1. Uses Debian's python3-grpcio and
stubs generated at build time (--stubs DIR).
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addr", required=True, help="HOST:PORT of the server")
    parser.add_argument("--ca", required=True, help="CA certificate that signed the server's")
    parser.add_argument("--cert", help="client certificate (PEM) for mTLS")
    parser.add_argument("--key", help="client private key (PEM) for mTLS")
    parser.add_argument("--stubs", required=True, help="directory of the generated *_pb2 modules")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    import grpc
    import reflection_pb2
    import reflection_pb2_grpc

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key) if args.key else None,
        certificate_chain=read(args.cert) if args.cert else None,
    )
    with grpc.secure_channel(args.addr, credentials) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        try:
            for response in stub.ServerReflectionInfo(iter([request]), timeout=args.timeout):
                if response.HasField("error_response"):
                    print("reflection_list: error: " + response.error_response.error_message,
                          file=sys.stderr)
                    return 1
                for service in response.list_services_response.service:
                    print(service.name)
        except grpc.RpcError as error:
            print(f"reflection_list: error: {error.code().name}: {error.details()}",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
