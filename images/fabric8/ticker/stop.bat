@echo off
rem Asks the app's process tree to close.
setlocal
cd /d "%~dp0"
if not exist process.pid exit /b 0
set /p PID=<process.pid
taskkill /T /PID %PID% >nul 2>nul
del process.pid >nul 2>nul
exit /b 0
