#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter: python3.10 on PATH, else pyenv's 3.10.x.
set -u
ok() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }
if command -v python3.10 >/dev/null 2>&1 && ok python3.10; then
  python3.10 -c 'import sys; print(sys.executable)'; exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.[0-9]+$' | sort -V | tail -n 1)
  if [ -n "$v" ]; then
    p="$(pyenv root)/versions/$v/bin/python3.10"
    if ok "$p"; then echo "$p"; exit 0; fi
  fi
fi
echo "error: Python 3.10 not found (Rasa 3.6 needs it): install python3.10 or 'pyenv install 3.10.13'" >&2
exit 1
