@echo off
rem Ends the app's process tree: by the pid jube recorded, else by start.bat's window title.
rem A console app has no window to be asked to close, so both stop.bat and kill.bat end it at once.
setlocal
cd /d "%~dp0"
if exist process.pid goto by_pid
taskkill /T /F /FI "WINDOWTITLE eq fabric8-java" >nul 2>nul
exit /b 0
:by_pid
set /p PID=<process.pid
taskkill /T /F /PID %PID% >nul 2>nul
del process.pid >nul 2>nul
exit /b 0
