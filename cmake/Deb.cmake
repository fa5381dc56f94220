# CPack: `cpack -G DEB` in the build directory (or `make deb`) -> remotemedia_<version>_<arch>.deb
# installing under /usr. Dependencies are computed from the binaries by dpkg-shlibdeps (all from
# Debian), plus python3 for Python host-process nodes.
set(CPACK_PACKAGE_NAME remotemedia)
set(CPACK_PACKAGE_VENDOR "remotemedia")
set(CPACK_PACKAGE_CONTACT "remotemedia maintainers <remotemedia@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Streaming-pipeline runtime (native, Python and Docker nodes) and GPU telemetry pipeline")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.9)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-numpy")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "docker.io")
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
include(CPack)
