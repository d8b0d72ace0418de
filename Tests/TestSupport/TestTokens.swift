import CobrowseTokens

extension ContactCenterTokens {
    /// The HS256 secret test registries (and dev-mode relays) are configured with.
    public static let secret = "test-secret-for-the-contact-center-only"

    /// A signer with the tests' shared secret.
    public static func hs256() async -> ContactCenterTokens {
        await hs256(secret)
    }
}
