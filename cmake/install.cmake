# Install rules (included by src/CMakeLists.txt when GOMAP_INSTALL is on):
#   include/gomap.h, include/gomap/*.h         the public headers
#   lib/libgomap.so.0.1.0 (+ .so.0, .so)       the shared library
#   lib/libgomap.a                             the static library
#   lib/pkgconfig/gomap.pc                     pkg-config
#   lib/cmake/gomap/                           the CMake package
# Directories come from GNUInstallDirs (lib may be lib/<multiarch>).
include(CMakePackageConfigHelpers)

install(FILES ${PROJECT_SOURCE_DIR}/include/gomap.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT gomap_development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/gomap
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT gomap_development
        FILES_MATCHING PATTERN "*.h")

install(TARGETS gomap_shared gomap_static EXPORT gomapTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
                COMPONENT gomap_runtime NAMELINK_COMPONENT gomap_development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT gomap_development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT gomap_runtime)

set(gomap_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/gomap)
install(EXPORT gomapTargets NAMESPACE gomap:: DESTINATION ${gomap_cmake_dir}
        COMPONENT gomap_development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/gomapConfig.cmake.in
  ${PROJECT_BINARY_DIR}/gomapConfig.cmake INSTALL_DESTINATION ${gomap_cmake_dir})
# SOVERSION is the major version, so a release is compatible with the ones
# of its major (an ABI break bumps it, 0.x included).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gomapConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gomapConfig.cmake ${PROJECT_BINARY_DIR}/gomapConfigVersion.cmake
        DESTINATION ${gomap_cmake_dir} COMPONENT gomap_development)

# gomap.pc is written at install time, so that its paths are those of the
# prefix actually installed to (cmake --install --prefix DIR), not the one
# configured. It is generated inside the build tree, then installed.
set(gomap_pc_in ${PROJECT_SOURCE_DIR}/cmake/gomap.pc.in)
set(gomap_pc ${PROJECT_BINARY_DIR}/pkgconfig/gomap.pc)
install(CODE "
  set(pc_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  foreach(dir libdir:${CMAKE_INSTALL_LIBDIR} includedir:${CMAKE_INSTALL_INCLUDEDIR})
    string(REGEX MATCH \"^[a-z]+\" name \"\${dir}\")
    string(REGEX REPLACE \"^[a-z]+:\" \"\" path \"\${dir}\")
    if(IS_ABSOLUTE \"\${path}\")
      set(pc_\${name} \"\${path}\")
    else()
      set(pc_\${name} \"\\\${prefix}/\${path}\")
    endif()
  endforeach()
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${gomap_pc_in}\" \"${gomap_pc}\" @ONLY)
" COMPONENT gomap_development)
install(FILES ${gomap_pc} DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT gomap_development)
