/// pgkeep's own version, written into every manifest and printed by `pgkeep --version`.
public enum PGKeepVersion {
    public static let string = "0.2.0"
}
