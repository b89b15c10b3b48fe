list(APPEND MESH_ANALYZER_SRCS
  ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/schema/register.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/schema/reporting.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/schema/resource_validation_analyzer.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/schema/mesh_validation_analyzer.cc)
