import Foundation

/// `rclone cat`'s stdout as a `ByteStream`.
final class RcloneDownload: ByteStream {
    let child: ChildProcess
    let url: String

    init(child: ChildProcess, url: String) {
        self.child = child
        self.url = url
    }

    var fd: Int32 { child.stdoutDescriptor }

    func finish() throws {
        let result = child.wait()
        guard result.succeeded else {
            throw result.failure("downloading \(url) failed", hint: "check the remote and try again")
        }
    }

    func cancel() {
        child.closeStdout()
        child.terminate(grace: 1)
        child.wait()
    }
}
