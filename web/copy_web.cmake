# cmake -DSRC=<web dir> -DOUT=<share/remotemedia/web> -P copy_web.cmake
file(GLOB apps LIST_DIRECTORIES true ${SRC}/*)
foreach(app IN LISTS apps)
  get_filename_component(name ${app} NAME)
  if(IS_DIRECTORY ${app} AND NOT name STREQUAL "node_modules" AND NOT name STREQUAL "vendor")
    file(COPY ${app}/ DESTINATION ${OUT}/${name})
  endif()
endforeach()
# What the pages load from vendor/ (the name they use -> where npm puts it).
set(vendor
  "uPlot.iife.min.js=uplot/dist/uPlot.iife.min.js"
  "uPlot.min.css=uplot/dist/uPlot.min.css"
  "swagger-ui-bundle.js=swagger-ui-dist/swagger-ui-bundle.js"
  "swagger-ui.css=swagger-ui-dist/swagger-ui.css"
  "swagger-ui-standalone-preset.js=swagger-ui-dist/swagger-ui-standalone-preset.js")
file(MAKE_DIRECTORY ${OUT}/vendor)
set(missing "")
foreach(pair IN LISTS vendor)
  string(REPLACE "=" ";" kv ${pair})
  list(GET kv 0 name)
  list(GET kv 1 from)
  if(EXISTS ${SRC}/node_modules/${from})
    file(COPY_FILE ${SRC}/node_modules/${from} ${OUT}/vendor/${name} ONLY_IF_DIFFERENT)
  else()
    list(APPEND missing ${from})
  endif()
endforeach()
if(missing)
  message(WARNING "web: npm packages missing (${missing}); run `bash scripts/web-setup.sh` so the pages have their libraries")
endif()
