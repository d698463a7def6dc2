# freshet_module(NAME SOURCES ... DEPS ...): a static library freshet_<NAME> from src/<NAME>/,
# with include root src/.
function(freshet_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(freshet_${name} STATIC ${M_SOURCES})
  target_include_directories(freshet_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(freshet_${name} PUBLIC ${M_DEPS})
endfunction()

# freshet_test(NAME SOURCES ... DEPS ...): a GoogleTest executable registered with CTest.
function(freshet_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()
