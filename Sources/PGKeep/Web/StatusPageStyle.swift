/// The status page's stylesheet, inline: system fonts, colours from two palettes (light and
/// `prefers-color-scheme: dark`), tables that scroll sideways on a narrow screen, and long names
/// that wrap anywhere rather than widen the page.
enum StatusPageStyle {
    static let css = """
        :root{--bg:#fff;--fg:#1b1f23;--muted:#586069;--line:#d0d7de;--ok:#1a7f37;--bad:#c62828;--bar:#4878b8;\
        --pin:#8250df;--head:#f3f5f7}
        @media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b1;--line:#30363d;\
        --ok:#3fb950;--bad:#ff7b72;--bar:#58a6ff;--pin:#d2a8ff;--head:#161b22}}
        *{box-sizing:border-box}
        body{margin:0 auto;max-width:80rem;padding:1rem;background:var(--bg);color:var(--fg);\
        font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow-wrap:break-word}
        h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
        .meta{color:var(--muted);margin:.2rem 0}
        .verdict{font-weight:600;padding:.5rem .75rem;border-radius:6px;border:2px solid}
        .verdict.ok{color:var(--ok);border-color:var(--ok)}.verdict.bad{color:var(--bad);border-color:var(--bad)}
        .scroll{overflow-x:auto;max-width:100%}
        table{border-collapse:collapse;min-width:100%;font-size:.9rem}
        caption{text-align:left;color:var(--muted);padding:.25rem 0}
        th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
        thead th{background:var(--head);white-space:nowrap}
        td.num{text-align:right;white-space:nowrap}
        .ok{color:var(--ok)}.bad,.anomaly,.problem{color:var(--bad)}.pin{color:var(--pin)}
        tr.delete{opacity:.75}
        pre{margin:0;white-space:pre-wrap;font-size:.85rem}
        figure{margin:.5rem 0}
        svg{width:100%;height:auto;max-height:14rem;display:block}
        svg .bar{fill:var(--bar)}svg .bar.anomaly{fill:var(--bad)}svg .bar.pinned{fill:var(--pin)}
        svg .duration{fill:none;stroke:var(--fg);stroke-width:1.5;opacity:.7}
        svg .axis{stroke:var(--line)}
        svg text{fill:var(--muted);font-size:11px}svg .end{text-anchor:end}
        svg .mark{fill:var(--bad);font-weight:700;text-anchor:middle}
        figcaption{color:var(--muted);font-size:.85rem}
        details{margin:.5rem 0}summary{cursor:pointer}
        @media (max-width:40rem){body{padding:.5rem;font-size:14px}th,td{padding:.25rem .35rem}}
        """
}
