import Foundation

/// A private 0700 scratch directory, removed on Ctrl-C too.
func makeScratchDirectory() throws -> String {
    let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("pgkeep-restore.XXXXXX")
    var buf = Array(template.utf8CString)
    guard let made = mkdtemp(&buf) else {
        throw PGKeepError(.backup, "cannot create a scratch directory: \(errnoText())")
    }
    let dir = String(cString: made)
    _ = Cancellation.shared.register(path: dir)
    return dir
}
