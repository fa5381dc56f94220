# All dependencies come from Debian bookworm packages (scripts/setup.sh installs them).
# Found here: what core (always built) and the test/bench tools need. A module's own libraries
# are found in its CMakeLists.txt (runtime: yaml-cpp; media: sndfile; runtime/nodes: soxr, webrtc).
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(tl-expected CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
if(RM_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(RM_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
# Boost.Asio/Beast are header-only; define once for every target.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED)
