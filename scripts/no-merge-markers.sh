#!/bin/sh
# A merge's conflict markers left in a tracked file (prettier does not see them in Markdown or shell).
if git grep -nE '^(<<<<<<<|>>>>>>>)( |$)' -- . ':!node_modules'; then
  echo 'merge conflict markers left in the files above' >&2
  exit 1
fi
