@echo off
rem Starts the app in the background, its output appended to logs\app.log. jube does not run this
rem script: on Windows it starts run.bat itself, so that it knows the app's pid and holds its
rem process tree in a Job Object. A batch file cannot learn the pid of what it starts (that takes
rem PowerShell or WMI), so this one records none; stop.bat and kill.bat find the app by its
rem window title instead.
setlocal
cd /d "%~dp0"
if not exist logs mkdir logs
start "fabric8-java" /min cmd /c "run.bat >>logs\app.log 2>&1"
echo started
