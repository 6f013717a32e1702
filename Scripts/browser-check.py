#!/usr/bin/env python3
"""Loads a page in headless Chromium (Debian's chromium and chromium-driver, through Selenium) and
prints, as one JSON object, what the status page tests assert on: the rendered DOM (rows, markers,
failures, charts, scripts), the console's messages, every network request the page made, whether
the page overflows a phone's width, the body's colours in the light and the dark theme, and the
screenshots it wrote (phone and desktop widths, light and dark).

usage: browser-check.py URL OUTDIR [USER:PASSWORD]"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

url, outdir = sys.argv[1], sys.argv[2]
credentials = sys.argv[3] if len(sys.argv) > 3 else None
os.makedirs(outdir, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-default-apps",
             "--user-data-dir=" + os.path.join(outdir, "profile")]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
result = {"screenshots": []}
try:
    driver.execute_cdp_cmd("Network.enable", {})
    if credentials:
        import base64
        token = base64.b64encode(credentials.encode()).decode()
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})

    def shoot(name, width, height, dark):
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        driver.get(url)
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": min(max(height, full), 6000), "deviceScaleFactor": 1,
            "mobile": width < 600})
        path = os.path.join(outdir, name + ".png")
        driver.save_screenshot(path)
        result["screenshots"].append(path)
        return driver.execute_script("""
            const b = getComputedStyle(document.body);
            return {background: b.backgroundColor, color: b.color,
                    overflow: document.documentElement.scrollWidth - window.innerWidth};""")

    result["phone"] = shoot("status-phone", 390, 844, False)
    result["phone_dark"] = shoot("status-phone-dark", 390, 844, True)
    result["desktop_dark"] = shoot("status-desktop-dark", 1280, 900, True)
    result["desktop"] = shoot("status-desktop", 1280, 900, False)
    result.update(driver.execute_script("""
        const all = (s) => Array.from(document.querySelectorAll(s));
        return {
          title: document.title,
          verdict: (document.getElementById('verdict') || {}).textContent || null,
          rows: all('#databases tbody tr').map(r => r.getAttribute('data-database')),
          row_text: all('#databases tbody tr').map(r => r.textContent),
          headers: all('#databases thead th').map(h => h.textContent),
          anomaly_markers: all('#databases td.anomaly').length,
          chart_anomalies: all('figure.chart svg rect.anomaly').length,
          charts: all('figure.chart svg').length,
          sections: all('section.database').map(s => s.getAttribute('data-database')),
          failures: all('#failures tbody tr').map(r => r.textContent),
          remotes: all('#remotes tbody tr').map(r => r.textContent),
          retention_rows: all('details.retention tbody tr').length,
          pinned: all('#databases td.pin').length + all('figure.chart svg rect.pinned').length,
          scripts: all('script').length,
          event_handlers: all('*').filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length,
          text: document.body.innerText,
          content: document.body.textContent,
        };"""))
    result["console"] = [{"level": e["level"], "message": e["message"]} for e in driver.get_log("browser")]
    # The page's own requests (the browser's new-tab page makes others of its own): the page
    # itself, and anything it asked for, with the failures.
    requests, ours = [], set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent" and params.get("documentURL") == url:
            ours.add(params["requestId"])
            requests.append(params["request"]["url"])
        elif message.get("method") == "Network.loadingFailed" and params.get("requestId") in ours:
            requests.append("FAILED " + params.get("errorText", ""))
    result["requests"] = requests
finally:
    driver.quit()
print(json.dumps(result))
