#!/bin/sh
# Install headless Chromium and its WebDriver for tests/test_browser.py, from the
# Debian packages chromium and chromium-driver, where we can.
# Never fails: without them the browser test is skipped and says why.
if command -v chromedriver >/dev/null 2>&1 && { command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null 2>&1; then
    echo "Chromium: found ($(command -v chromedriver))"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "Chromium: installing the Debian packages chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; }; then
        echo "Chromium: installed"
        exit 0
    fi
    echo "Chromium: apt-get could not install chromium chromium-driver; the browser test will be skipped"
    exit 0
fi
echo "Chromium: not installed; the browser test will be skipped. Run 'sudo apt-get install chromium chromium-driver' to enable it."
exit 0
