# Install rules, the CMake package (find_package(remotemedia)), remotemedia.pc and CPack (.deb).
# Included from the top CMakeLists.txt after every module, so it sees whichever targets the
# configured components built. Layout under a prefix P:
#   P/bin/                         remotemedia, telemetry-collector, telemetry-streamer, api-gateway
#   P/<libdir>/                    libremotemedia_ipc.so and the static libraries
#   P/<libdir>/cmake/remotemedia/  package config, version file, exported targets
#   P/<libdir>/pkgconfig/          remotemedia.pc
#   P/include/remotemedia/         public headers (core/ ipc/ runtime/ media/ nodes/ process/ docker/ telemetry/)
#   P/share/remotemedia/python/    the Python SDK and its runner
#   P/share/remotemedia/examples/  example manifests and Python nodes
#   P/share/doc/remotemedia/, P/share/man/man1/remotemedia.1
# Nothing installed refers to the source or build tree: programs find the SDK and the IPC
# library relative to their own location (runtime/process install_layout.hpp).
include(CMakePackageConfigHelpers)
set(RM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/remotemedia)
set(RM_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/remotemedia)

# Real target behind an alias.
function(_rm_real out name)
  if(TARGET ${name})
    get_target_property(_a ${name} ALIASED_TARGET)
    if(_a)
      set(name ${_a})
    endif()
  endif()
  set(${out} ${name} PARENT_SCOPE)
endfunction()

# Source-tree include directories become build-only; installed consumers use P/include/remotemedia.
# The directories are recorded for the header install below.
set(_rm_header_dirs "")
function(_rm_relocate_includes target)
  get_target_property(_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  set(_new "")
  foreach(d IN LISTS _dirs)
    if(d MATCHES "^${PROJECT_SOURCE_DIR}/")
      list(APPEND _new "$<BUILD_INTERFACE:${d}>")
      set_property(GLOBAL APPEND PROPERTY RM_HEADER_DIRS ${d})
    elseif(d)
      list(APPEND _new "${d}")
    endif()
  endforeach()
  list(APPEND _new "$<INSTALL_INTERFACE:${RM_INCLUDE_DIR}>")
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_new}")
endfunction()

# Static libraries: exported as remotemedia::<export name>.
set(_rm_export_targets "")
if(TARGET rm_core)
  target_compile_definitions(rm_core INTERFACE BOOST_ASIO_NO_DEPRECATED)
endif()
foreach(pair IN ITEMS rm_core:core rm_ipc:ipc rm_runtime:runtime_base rm_media:media
                      rm_docker:docker_client rm_telemetry:telemetry)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 tgt)
  list(GET pair 1 name)
  if(TARGET ${tgt})
    _rm_relocate_includes(${tgt})
    string(REPLACE "rm_" "remotemedia_" _out ${tgt})
    if(tgt STREQUAL "rm_ipc")
      set(_out remotemedia_ipc_cxx)  # libremotemedia_ipc.so is the C ABI; -lremotemedia_ipc would pick it
    endif()
    set_target_properties(${tgt} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME ${_out})
    list(APPEND _rm_export_targets ${tgt})
  endif()
endforeach()

# OBJECT libraries (every object linked, so static registrars run) are shipped as archives that
# remotemedia::runtime links whole (--whole-archive): nothing the registry needs is dropped.
set(_rm_whole "")
foreach(pair IN ITEMS rm_nodes:nodes rm_process:process rm_docker_node:docker_node)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 obj)
  list(GET pair 1 name)
  if(NOT TARGET ${obj})
    continue()
  endif()
  _rm_relocate_includes(${obj})
  add_library(${obj}_archive STATIC $<TARGET_OBJECTS:${obj}>)
  set_target_properties(${obj}_archive PROPERTIES EXPORT_NAME ${name}
    OUTPUT_NAME remotemedia_${name} INTERFACE_INCLUDE_DIRECTORIES "$<INSTALL_INTERFACE:${RM_INCLUDE_DIR}>")
  get_target_property(_deps ${obj} INTERFACE_LINK_LIBRARIES)
  foreach(dep IN LISTS _deps)
    _rm_real(dep ${dep})
    # Other OBJECT libraries are linked whole by remotemedia::runtime itself.
    if(TARGET ${dep})
      get_target_property(_type ${dep} TYPE)
      if(_type STREQUAL "OBJECT_LIBRARY")
        continue()
      endif()
    endif()
    target_link_libraries(${obj}_archive PUBLIC ${dep})
  endforeach()
  list(APPEND _rm_export_targets ${obj}_archive)
  # Export does not rewrite target names inside $<LINK_LIBRARY>: name the installed one explicitly.
  list(APPEND _rm_whole "$<BUILD_INTERFACE:$<LINK_LIBRARY:WHOLE_ARCHIVE,${obj}_archive>>"
                        "$<INSTALL_INTERFACE:$<LINK_LIBRARY:WHOLE_ARCHIVE,remotemedia::${name}>>")
endforeach()

if(TARGET rm_runtime)
  # remotemedia::runtime: manifest, executor, every node runtime that was built.
  add_library(remotemedia_runtime INTERFACE)
  set_target_properties(remotemedia_runtime PROPERTIES EXPORT_NAME runtime)
  target_link_libraries(remotemedia_runtime INTERFACE rm_runtime ${_rm_whole})
  if(TARGET rm_media)
    target_link_libraries(remotemedia_runtime INTERFACE rm_media)
  endif()
  if(RM_SANITIZE STREQUAL "address")
    target_link_options(remotemedia_runtime INTERFACE -fsanitize=address,undefined)
  elseif(RM_SANITIZE STREQUAL "thread")
    target_link_options(remotemedia_runtime INTERFACE -fsanitize=thread)
  endif()
  list(APPEND _rm_export_targets remotemedia_runtime)
endif()

# libremotemedia_ipc.so (the C ABI the Python SDK loads): remotemedia::ipc_c. In sanitized builds
# the plain copy is the one installed.
if(DEFINED RM_IPC_SHARED_TARGET AND TARGET ${RM_IPC_SHARED_TARGET})
  _rm_relocate_includes(${RM_IPC_SHARED_TARGET})
  set_target_properties(${RM_IPC_SHARED_TARGET} PROPERTIES EXPORT_NAME ipc_c)
  list(APPEND _rm_export_targets ${RM_IPC_SHARED_TARGET})
endif()

install(TARGETS ${_rm_export_targets} EXPORT remotemedia-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
  INCLUDES DESTINATION ${RM_INCLUDE_DIR})
# `cmake --install --strip` and CPack strip programs and shared libraries; the static archives
# lose their debug sections too (a third of the package otherwise, and they name the build paths).
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    file(GLOB _rm_archives \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/libremotemedia_*.a\")
    foreach(_a IN LISTS _rm_archives)
      execute_process(COMMAND ${CMAKE_STRIP} --strip-debug \${_a})
    endforeach()
  endif()" COMPONENT dev)
get_property(_hdirs GLOBAL PROPERTY RM_HEADER_DIRS)
list(REMOVE_DUPLICATES _hdirs)
foreach(d IN LISTS _hdirs)
  install(DIRECTORY ${d}/ DESTINATION ${RM_INCLUDE_DIR} COMPONENT dev)
endforeach()

# Programs.
foreach(app IN ITEMS remotemedia telemetry-collector telemetry-streamer api-gateway)
  if(TARGET ${app})
    install(TARGETS ${app} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  endif()
endforeach()

# Python SDK + runner, examples, docs and the man page (web/ installs the web pages).
if(TARGET rm_process)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/remotemedia DESTINATION ${CMAKE_INSTALL_DATADIR}/remotemedia/python
    COMPONENT runtime PATTERN __pycache__ EXCLUDE)
endif()
if(TARGET remotemedia)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/native ${PROJECT_SOURCE_DIR}/examples/python
    DESTINATION ${CMAKE_INSTALL_DATADIR}/remotemedia/examples COMPONENT runtime PATTERN __pycache__ EXCLUDE)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/remotemedia.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
  # The base-image recipe docker nodes fall back to without a registry (docker/base_image.hpp).
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/base-images.sh
    DESTINATION ${CMAKE_INSTALL_DATADIR}/remotemedia/scripts COMPONENT runtime)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/cli.md ${PROJECT_SOURCE_DIR}/docs/manifest.md
    ${PROJECT_SOURCE_DIR}/docs/nodes.md ${PROJECT_SOURCE_DIR}/docs/python-nodes.md
    ${PROJECT_SOURCE_DIR}/docs/embedding.md
    DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
endif()

# CMake package: dependencies of the components that were built, found with find_dependency.
set(RM_CONFIG_DEPENDENCIES "")
macro(_rm_dep line)
  string(APPEND RM_CONFIG_DEPENDENCIES "${line}\n")
endmacro()
_rm_dep("set(THREADS_PREFER_PTHREAD_FLAG ON)")
_rm_dep("find_dependency(Threads)")
_rm_dep("find_dependency(tl-expected CONFIG)")
if(TARGET rm_core)
  _rm_dep("find_dependency(Boost 1.81.0 EXACT CONFIG COMPONENTS json)")
  _rm_dep("find_dependency(fmt)")
  _rm_dep("find_dependency(spdlog)")
  _rm_dep("find_dependency(CLI11 CONFIG)")
endif()
if(TARGET rm_runtime)
  _rm_dep("find_dependency(yaml-cpp)")
  _rm_dep("find_dependency(PkgConfig)")
endif()
if(TARGET rm_media)
  _rm_dep("_rm_pkg(SNDFILE sndfile)")
endif()
if(TARGET rm_nodes)
  _rm_dep("_rm_pkg(SOXR soxr)")
  _rm_dep("_rm_pkg(WEBRTC_AP webrtc-audio-processing)")
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/remotemedia-config.cmake.in
  ${PROJECT_BINARY_DIR}/remotemedia-config.cmake INSTALL_DESTINATION ${RM_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/remotemedia-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(EXPORT remotemedia-targets NAMESPACE remotemedia:: DESTINATION ${RM_CMAKE_DIR} COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/remotemedia-config.cmake ${PROJECT_BINARY_DIR}/remotemedia-config-version.cmake
  DESTINATION ${RM_CMAKE_DIR} COMPONENT dev)

# pkg-config: the node archives linked whole, like remotemedia::runtime.
if(TARGET rm_runtime)
  set(RM_PC_WHOLE "")
  foreach(n IN ITEMS nodes process docker_node)
    if(TARGET rm_${n}_archive)
      string(APPEND RM_PC_WHOLE " -lremotemedia_${n}")
    endif()
  endforeach()
  set(RM_PC_LIBS "")
  foreach(n IN ITEMS docker media runtime ipc core)
    if(TARGET rm_${n})
      get_target_property(_out rm_${n} OUTPUT_NAME)
      string(APPEND RM_PC_LIBS " -l${_out}")
    endif()
  endforeach()
  if(RM_SANITIZE STREQUAL "address")
    string(APPEND RM_PC_LIBS " -fsanitize=address,undefined")
  elseif(RM_SANITIZE STREQUAL "thread")
    string(APPEND RM_PC_LIBS " -fsanitize=thread")
  endif()
  set(RM_PC_REQUIRES "spdlog fmt yaml-cpp")
  if(TARGET rm_media)
    string(APPEND RM_PC_REQUIRES " sndfile")
  endif()
  if(TARGET rm_nodes)
    string(APPEND RM_PC_REQUIRES " soxr webrtc-audio-processing")
  endif()
  file(RELATIVE_PATH RM_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/remotemedia.pc.in ${PROJECT_BINARY_DIR}/remotemedia.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/remotemedia.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endif()

include(cmake/Deb.cmake)
