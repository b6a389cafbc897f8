@echo off
rem Environment of the fabric8/java image, called by every script. jube inserts its own lines
rem (APP_BASE, HTTP_PORT, JOLOKIA_PORT, -e variables) just before the first set below.
if not defined JAVA_OPTIONS set "JAVA_OPTIONS="
if not defined JAVA_MAIN_CLASS if defined MAIN set "JAVA_MAIN_CLASS=%MAIN%"
if not defined HTTP_PORT set "HTTP_PORT=8080"
if not defined JOLOKIA_PORT set "JOLOKIA_PORT=8778"
if not defined STOP_TIMEOUT set "STOP_TIMEOUT=10"
