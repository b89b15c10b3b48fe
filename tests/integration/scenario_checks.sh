# Shared by the end-to-end scripts that run the local scenario (sourced after
# scripts/lib/scenario.sh): PASS/FAIL bookkeeping, and a teardown that shows the
# processes' logs when anything failed.
passed=0
failed=0

# check NAME COMMAND...: runs COMMAND and records PASS or FAIL under NAME.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

# Stops the scenario, prints the logs on failure, removes SCENARIO_DIR; exits non-zero
# when any check failed. Install with: trap 'finish; exit $?' EXIT
finish() {
  scenario_stop
  if [ $failed -gt 0 ]; then
    echo "--- logs ($SCENARIO_DIR/logs)"
    tail -n 20 "$SCENARIO_DIR"/logs/*.log
  fi
  rm -rf "$SCENARIO_DIR"
  echo "$passed passed, $failed failed"
  [ $failed -eq 0 ]
}
