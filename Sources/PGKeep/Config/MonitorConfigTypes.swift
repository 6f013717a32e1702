import Foundation

/// The value types only `[monitor]`'s alert keys use.
extension ConfigType where T == [String] {
    /// A command in one string, split into words as a shell would (quotes, backslashes), never run
    /// by one (`email_sendmail = "msmtp -C /etc/pgkeep/msmtprc"`).
    static var shellWords: Self {
        Self(name: "command") { r, key in
            guard let text = try r.string(key) else { return nil }
            let words = try r.wrap(key) { try ShellWords.split(text, option: key) }
            guard !words.isEmpty else { throw r.fail(key, "is empty; write a command, e.g. \"sendmail\"") }
            return words
        }
    }
}

extension ConfigType where T == String {
    /// A Telegram chat: `"-100123"`, `"@channel"`, or a number (what a `PGKEEP_MONITOR_TELEGRAM_CHAT_ID`
    /// of `-100123` reads as).
    static var chatID: Self {
        Self(name: "chat id") { r, key in
            if let number = r.value(key)?.int { return String(number) }
            return try r.string(key)
        }
    }
}

extension ConfigType where T == String {
    /// `[daemon] listen`: `"127.0.0.1:9187"`, or a port alone, as a string or a number (what a
    /// `PGKEEP_DAEMON_LISTEN` of `9187` reads as); checked as `ListenAddress` reads it.
    static var listen: Self {
        Self(name: "listen address") { r, key in
            guard let text = try r.value(key)?.int.map({ String($0) }) ?? r.string(key) else { return nil }
            guard (try? ListenAddress(text)) != nil else {
                throw r.fail(
                    key, "\"\(text)\" is not HOST:PORT with an IP address",
                    hint: "e.g. \"127.0.0.1:9187\" (loopback), \"0.0.0.0:9187\" (every interface) or a port alone")
            }
            return text
        }
    }
}
