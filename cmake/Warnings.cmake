# rm_warnings(<target>): the project's warning set; -Werror when RM_WERROR is on (CI).
function(rm_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
    -Wnon-virtual-dtor -Wno-missing-field-initializers)
  if(RM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
