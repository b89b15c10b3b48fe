foreach(src register.cc common.cc gateway.cc virtualservice.cc destinationrule.cc serviceentry.cc sidecar.cc
            k8sgateway.cc multicluster.cc)
  list(APPEND MESH_ANALYZER_SRCS ${CMAKE_CURRENT_SOURCE_DIR}/analyzers/networking/${src})
endforeach()
