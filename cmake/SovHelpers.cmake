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

# sov_cc_test(path/to/foo_test.cc LIBS...): one test binary per file, registered with ctest.
function(sov_cc_test source)
  get_filename_component(name ${source} NAME_WE)
  get_filename_component(dir ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  set(target ${dir}_${name})
  add_executable(${target} ${source})
  target_link_libraries(${target} PRIVATE ${ARGN} GTest::gtest GTest::gtest_main GTest::gmock)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE ${SOV_WARNINGS})
  gtest_discover_tests(${target}
    DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "SOV_BUILD_DIR=${PROJECT_BINARY_DIR}"
               ENVIRONMENT_MODIFICATION "SOV_SOURCE_DIR=set:${PROJECT_SOURCE_DIR}")
endfunction()
