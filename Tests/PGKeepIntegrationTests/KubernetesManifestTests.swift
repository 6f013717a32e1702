import Foundation
import Testing

@testable import PGKeep

/// deploy/kubernetes, offline: every manifest passes Kubernetes' own schemas (PyPI's
/// kubernetes-validate, strict: an unknown or misspelt field fails), the ConfigMap's pgkeep.toml is
/// a config pgkeep accepts, the Indexed Job's shard count agrees with its completions, and the pods
/// run as the image's user.
@Suite(
    .enabled(
        if: TestServer.required || KubernetesValidate.available,
        "needs kubernetes-validate (Scripts/test.sh installs it)"))
struct KubernetesManifestTests {
    static let folder = CommandLineRoot.path + "/deploy/kubernetes"

    static var manifests: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    /// One value out of a manifest, read by Python's YAML (kubernetes-validate's own dependency).
    static func yaml(_ file: String, _ expression: String) throws -> String {
        let r = try TestServer.run(
            "/usr/bin/python3",
            [
                "-c", "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(\(expression))",
                folder + "/" + file,
            ])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.trimmingCharacters(in: .newlines)
    }

    @Test func everyManifestPassesTheSchemas() throws {
        #expect(Self.manifests.count >= 5, "\(Self.manifests)")
        for file in Self.manifests {
            let r = try KubernetesValidate.run(["--strict", Self.folder + "/" + file])
            #expect(r.status == 0, "\(file): \(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("passed"), "\(file): \(r.stdout)")
        }
        // The check is not vacuous: a misspelt field fails it.
        let bad = TestServer.tempDir("k8s") + "/bad.yaml"
        let text = try String(contentsOfFile: Self.folder + "/cronjob.yaml", encoding: .utf8)
            .replacingOccurrences(of: "concurrencyPolicy", with: "concurencyPolicy")
        try FileSystem.writePrivateFile(bad, data: Data(text.utf8))
        #expect(try KubernetesValidate.run(["--strict", bad]).status != 0)
    }

    @Test func theConfigMapIsAConfigAndTheJobsAgree() throws {
        let toml = try Self.yaml("configmap.yaml", "d['data']['pgkeep.toml']")
        let config = try PGKeepConfig.parse(toml, path: "configmap.yaml")
        #expect(config.servers.count >= 2 && config.minInterval != nil)
        #expect(config.servers.allSatisfy { $0.passwordFile?.hasPrefix("/etc/pgkeep/secrets/") == true })
        let secretKeys = try Self.yaml("secret.yaml", "' '.join(sorted(d['stringData']))")
        #expect(secretKeys == config.servers.map(\.name).sorted().joined(separator: " "))
        let job = "d['spec']['jobTemplate']['spec']"
        let completions = try Self.yaml("indexed-job.yaml", "\(job)['completions']")
        #expect(try Self.yaml("indexed-job.yaml", "\(job)['parallelism']") == completions)
        #expect(try Self.yaml("indexed-job.yaml", "\(job)['completionMode']") == "Indexed")
        let env = "\(job)['template']['spec']['containers'][0]['env']"
        #expect(
            try Self.yaml("indexed-job.yaml", "[e['value'] for e in \(env) if e['name'] == 'PGKEEP_SHARDS'][0]")
                == completions)
        for file in ["cronjob.yaml", "indexed-job.yaml"] {
            let pod = "\(job)['template']['spec']"
            #expect(try Self.yaml(file, "\(pod)['securityContext']['runAsUser']") == "10001", "\(file)")
            #expect(try Self.yaml(file, "d['spec']['concurrencyPolicy']") == "Forbid", "\(file)")
            #expect(try Self.yaml(file, "\(pod)['containers'][0]['args'][0]") == "run", "\(file)")
        }
    }
}

/// PyPI's kubernetes-validate, run as `python3 -m kubernetes_validate` (its script may not be on
/// PATH, as under pyenv).
enum KubernetesValidate {
    static let available: Bool =
        (try? TestServer.run("/usr/bin/env", ["python3", "-c", "import kubernetes_validate, yaml"]).status) == 0

    static func run(_ args: [String]) throws -> TestServer.Run {
        try TestServer.run("/usr/bin/env", ["python3", "-m", "kubernetes_validate"] + args)
    }
}

/// The repository's root folder.
enum CommandLineRoot {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}
