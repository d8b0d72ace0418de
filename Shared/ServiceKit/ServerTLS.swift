import HummingbirdTLS

/// The HTTP server's certificate and key (`TLS_CERT_FILE`, `TLS_KEY_FILE`): with both, a service
/// serves HTTPS (and the relay WSS) on its port, operational endpoints included; with neither,
/// plain HTTP (TLS ends at a proxy in front, or nowhere).
public enum ServerTLS {
    public static let certificate = EnvironmentVariable(
        "TLS_CERT_FILE", default: "",
        "PEM certificate chain: with `TLS_KEY_FILE`, the service serves HTTPS (the relay also WSS) instead of plain HTTP on `HTTP_PORT`, `/health`, `/ready` and `/metrics` included.")
    public static let key = EnvironmentVariable("TLS_KEY_FILE", default: "", "PEM private key of `TLS_CERT_FILE`.")

    /// The server configuration from PEM files; nil when neither is set. Throws a
    /// `ConfigurationError` naming the variable when one is missing or a file does not read.
    public static func configuration(_ environment: ServiceEnvironment) throws -> TLSConfiguration? {
        let certificateFile = environment.string(certificate), keyFile = environment.string(key)
        switch (certificateFile.isEmpty, keyFile.isEmpty) {
        case (true, true):
            return nil
        case (false, true), (true, false):
            let missing = certificateFile.isEmpty ? certificate : key
            throw ConfigurationError(variable: missing.name, value: "", expected: "a PEM file: TLS needs both TLS_CERT_FILE and TLS_KEY_FILE")
        case (false, false):
            let chain: [NIOSSLCertificate]
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
            } catch {
                throw ConfigurationError(variable: certificate.name, value: certificateFile, expected: "a readable PEM certificate chain (\(error))")
            }
            let privateKey: NIOSSLPrivateKey
            do {
                privateKey = try NIOSSLPrivateKey(file: keyFile, format: .pem)
            } catch {
                throw ConfigurationError(variable: key.name, value: keyFile, expected: "a readable PEM private key (\(error))")
            }
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        }
    }
}
