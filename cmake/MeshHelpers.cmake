# Declarative helpers, one library and one test binary per component (Abseil style).
#
# mesh_cc_library(NAME common SRCS a.cc b.cc DEPS absl::status)
#   -> static library mesh_common, alias mesh::common, include root = repository root.
# mesh_cc_test(NAME config_test SRCS x_test.cc DEPS mesh::config [LABELS integration])
#   -> gtest binary registered with CTest (tests discovered before each run).

function(mesh_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;DATA_DEPS" ${ARGN})
  set(target mesh_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(mesh::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
endfunction()

function(mesh_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} mesh::test_common GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  # MESHCTL_STATE_DIR forces meshctl into local mode (docs/KUBERNETES.md, "Choosing the
  # target"): a test that forgets --state-dir writes under build/, and never reaches the
  # developer's cluster through KUBECONFIG or ~/.kube/config. Tests that mean to talk to
  # a cluster pass --kubeconfig, which wins.
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_MODE PRE_TEST
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABELS}" ENVIRONMENT "MESHCTL_STATE_DIR=${CMAKE_BINARY_DIR}/test-state-guard")
endfunction()
