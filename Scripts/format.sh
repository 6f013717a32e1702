#!/usr/bin/env bash
# Formats the whole tree with swift format and the committed .swift-format (line length 120).
# Scripts/test.sh fails on what this would change (swift format lint --strict).
set -euo pipefail
cd "$(dirname "$0")/.."
swift format format --in-place --recursive --parallel Sources Tests Package.swift
