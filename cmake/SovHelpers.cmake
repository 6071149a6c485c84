# Project-wide compile flags and the one helper that makes a test binary.

set(SOV_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND SOV_WARNINGS -Wthread-safety)
endif()

# sov_library(NAME sources...): a module library `sov_NAME` with alias `sov::NAME`, whose
# include root is the project root (`#include "crypto/sha256.h"`).
function(sov_library name)
  add_library(sov_${name} ${ARGN})
  add_library(sov::${name} ALIAS sov_${name})
  target_include_directories(sov_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(sov_${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${SOV_WARNINGS}>)
endfunction()

# Test sources are compiled without optimisation whatever the build type: the libraries they
# test keep the build type's flags (-O2 in the dev preset), so what runs under test is the code
# that ships, while each test file compiles in about half the time (-O2 -g took 40-50 s for the
# largest; test files were 45 % of a full build's compile time). The last -O on the command
# line wins, so this overrides CMAKE_CXX_FLAGS_<CONFIG> for test targets only.
set(SOV_TEST_CXX_FLAGS "-O0" CACHE STRING
    "Compile flags for test sources, after the build type's (empty: the build type's alone)")

# sov_cc_test(path/to/foo_test.cc LIBS...): one test binary per file, registered with ctest.
function(sov_cc_test source)
  get_filename_component(name ${source} NAME_WE)
  get_filename_component(dir ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(target ${dir}_${name})
  add_executable(${target} ${source})
  target_link_libraries(${target} PRIVATE ${ARGN} GTest::gtest GTest::gtest_main GTest::gmock)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE ${SOV_WARNINGS} ${SOV_TEST_CXX_FLAGS})
  gtest_discover_tests(${target}
    DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "SOV_BUILD_DIR=${PROJECT_BINARY_DIR}"
               ENVIRONMENT_MODIFICATION "SOV_SOURCE_DIR=set:${PROJECT_SOURCE_DIR}")
endfunction()
