list(APPEND MESH_ANALYZER_SRCS ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/workload/register.cc)
