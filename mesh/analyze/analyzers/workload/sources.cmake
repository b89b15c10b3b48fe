# The workload analyzer group. annotations.yaml (Istio's annotation table) is embedded
# as a generated header.
set(MESH_ANNOTATIONS_HEADER ${PROJECT_BINARY_DIR}/generated/mesh/analyze/annotations_data.h)
add_custom_command(
  OUTPUT ${MESH_ANNOTATIONS_HEADER}
  COMMAND ${CMAKE_COMMAND} -DOUT=${MESH_ANNOTATIONS_HEADER} -DVAR=kAnnotationTable
          -DINPUTS=${CMAKE_CURRENT_SOURCE_DIR}/analyzers/workload/annotations.yaml
          -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/workload/annotations.yaml ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
  COMMENT "Embedding Istio annotation table"
  VERBATIM)
set(_mesh_workload_dir ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/workload)
list(APPEND MESH_ANALYZER_SRCS
  ${_mesh_workload_dir}/register.cc
  ${_mesh_workload_dir}/common.cc
  ${_mesh_workload_dir}/annotations.cc
  ${_mesh_workload_dir}/deployment.cc
  ${_mesh_workload_dir}/injection.cc
  ${_mesh_workload_dir}/service_webhook.cc
  ${_mesh_workload_dir}/security.cc
  ${_mesh_workload_dir}/envoyfilter.cc
  ${_mesh_workload_dir}/telemetry.cc
  ${_mesh_workload_dir}/meshnetworks.cc
  ${MESH_ANNOTATIONS_HEADER})
